#!/usr/bin/env bash
# The library package (issue 15): `dotnet pack src/Transforms` makes InferenceSidecar.Transforms.<version>.nupkg with
# its README, XML docs and pinned dependencies, and without the host or the fake provider. Then the embedded sample is
# copied out of the repo and built against that package from a local feed (no project reference, no repo props), so
# the package alone is enough for an app's own YARP host. Prints "pack check: ok" or fails.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# A version of its own (so no earlier build of the package in the NuGet cache is ever used), removed from the cache after.
base=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' src/Transforms/InferenceSidecar.Transforms.csproj)
version="$base-check.$(date +%s).$$"
cache=${NUGET_PACKAGES:-$HOME/.nuget/packages}
trap 'rm -rf "$work" "${cache%/}/inferencesidecar.transforms/$version"' EXIT
dotnet pack src/Transforms -c Release -o "$work/feed" -p:PackageVersion="$version" --nologo -v quiet
nupkg="$work/feed/InferenceSidecar.Transforms.$version.nupkg"
listing=$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$nupkg")
for want in README.md lib/net10.0/InferenceSidecar.Transforms.dll lib/net10.0/InferenceSidecar.Transforms.xml InferenceSidecar.Transforms.nuspec; do
  grep -qx "$want" <<<"$listing" || { echo "pack check: $want missing from $(basename "$nupkg")"; exit 1; }
done
if grep -Eq '(^|/)InferenceSidecar(\.FakeProvider)?\.dll$' <<<"$listing"; then
  echo "pack check: the package carries the host or the fake provider"; exit 1
fi
nuspec=$(python3 -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("InferenceSidecar.Transforms.nuspec").decode())' "$nupkg")
for dep in Yarp.ReverseProxy StackExchange.Redis prometheus-net.AspNetCore; do
  want=$(sed -n "s/.*PackageVersion Include=\"$dep\" Version=\"\([^\"]*\)\".*/\1/p" Directory.Packages.props)
  grep -q "id=\"$dep\" version=\"$want\"" <<<"$nuspec" || { echo "pack check: dependency $dep $want not in the nuspec"; exit 1; }
done

# The sample, outside the repo, against the package.
mkdir -p "$work/app"
cp samples/EmbeddedGateway/*.cs samples/EmbeddedGateway/appsettings.json "$work/app/"
yarp=$(sed -n 's/.*PackageVersion Include="Yarp.ReverseProxy" Version="\([^"]*\)".*/\1/p' Directory.Packages.props)
cat > "$work/app/EmbeddedGateway.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Yarp.ReverseProxy" Version="$yarp" />
    <PackageReference Include="InferenceSidecar.Transforms" Version="$version" />
  </ItemGroup>
</Project>
XML
cat > "$work/app/nuget.config" <<XML
<configuration>
  <packageSources>
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
XML
if ! dotnet build "$work/app" --nologo -v quiet > "$work/build.log" 2>&1; then
  tail -30 "$work/build.log"; echo "pack check: the sample does not build against the package"; exit 1
fi
echo "pack check: ok ($(basename "$nupkg"); the sample builds against it outside the repo)"
