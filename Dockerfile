# InferenceSidecar container image: SDK build stage → a minimal runtime, non-root, read-only-root-FS friendly.
# The build runs scripts/publish.sh, the same command CI runs (scripts/publish-check.sh), so this file cannot drift
# from what the tests exercise.
#   docker build .                    → NativeAOT (default; the chart's default image): one native executable on
#                                       runtime-deps (no .NET runtime), ~47 MB idle instead of ~98 (docs/aot.md)
#   docker build --build-arg BUILD=jit .  → the JIT build on the aspnet image (dotnet InferenceSidecar.dll)
#   --build-arg ILC_INSTRUCTION_SET=avx2    → native code for x86-64-v3 nodes only (default on x64: sse4.2, x86-64-v2)
ARG BUILD=aot

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG BUILD
ARG ILC_INSTRUCTION_SET=
WORKDIR /src
COPY . .
# publish.sh installs what the native build needs (Debian's clang and zlib1g-dev, scripts/deps.sh AOT_TOOLS).
RUN ./scripts/publish.sh /app "$BUILD"

FROM mcr.microsoft.com/dotnet/runtime-deps:10.0 AS runtime-aot
ENTRYPOINT ["./InferenceSidecar"]

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime-jit
ENTRYPOINT ["dotnet", "InferenceSidecar.dll"]

FROM runtime-${BUILD} AS runtime
WORKDIR /app
COPY --from=build /app .
# Listen on every interface inside the pod; the default config (repo-root appsettings.json) ships in /app.
# DOTNET_EnableDiagnostics=0: no diagnostic IPC socket in /tmp, so a read-only root filesystem works without any
# writable mount. The polling watcher makes SIDECAR_CONFIG reloads see Kubernetes' ConfigMap symlink swaps.
# DOTNET_TC_CallCountingDelayMs=0 (JIT build only; the native build has no JIT): tiered JIT starts promoting hot
# methods at once instead of waiting for start-up JIT activity to settle; a new pod under full load reaches steady
# throughput in ~12 s instead of 20+ (bench/).
ENV ASPNETCORE_ENVIRONMENT=Production \
    Kestrel__Endpoints__Proxy__Url=http://0.0.0.0:8080 \
    Kestrel__Endpoints__Management__Url=http://0.0.0.0:8081 \
    DOTNET_EnableDiagnostics=0 \
    DOTNET_USE_POLLING_FILE_WATCHER=true \
    DOTNET_gcServer=0 \
    DOTNET_TC_CallCountingDelayMs=0
EXPOSE 8080 8081
# The .NET images' built-in non-root user (uid 1654).
USER $APP_UID
