"""CPU µs per request by owning assembly from a perf.data file (bench/profile.sh): samples ÷ Hz ÷ requests."""
import collections, re, subprocess, sys

data, rps, seconds, hz = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio", "-g", "none"],
                        capture_output=True, text=True).stdout
total = int(re.search(r"# Samples: (\d+)([KM]?)", report).group(1)) * {"": 1, "K": 1000, "M": 1000000}[re.search(r"# Samples: (\d+)([KM]?)", report).group(2)]
# NativeAOT symbols are "Assembly_Name_Namespace_Type__Method": the assembly is the longest known prefix.
AOT_PREFIXES = ["S_P_CoreLib", "InferenceSidecar_Transforms", "InferenceSidecar", "Microsoft_AspNetCore_Server_Kestrel_Core",
                "Microsoft_AspNetCore_Server_Kestrel_Transport_Sockets", "Microsoft_AspNetCore", "Yarp_ReverseProxy",
                "System_Net_Http", "System_Net_Sockets", "System_Private_Uri", "System_Text_Json", "System_IO_Pipelines",
                "System_Collections_Immutable", "System_Collections_Concurrent", "System_Diagnostics_DiagnosticSource",
                "Prometheus_NetStandard", "Serilog", "StackExchange_Redis", "Microsoft_Extensions"]
owners = collections.Counter()
for line in report.splitlines():
    m = re.match(r"\s*([\d.]+)%\s+(\S+(?: \S+)*?)\s+\[(.)\]\s+(.*)", line)
    if not m:
        continue
    share, dso, kind, symbol = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    owner = re.search(r"\[([A-Za-z][\w.]+)\] [^ ]*::", symbol)  # JIT frames: "[Assembly] Type::Method"
    if kind == "k":
        key = "kernel"
    elif owner:
        key = owner.group(1)
    elif dso.startswith("InferenceSidecar") and not dso.endswith(".so"):  # the NativeAOT executable
        prefix = max((p for p in AOT_PREFIXES if symbol.startswith(p + "_")), key=len, default=None)
        key = prefix.replace("S_P_CoreLib", "System.Private.CoreLib").replace("_", ".") if prefix else "runtime (native image)"
    else:
        key = "runtime, native (" + dso.split("/")[-1] + ")" if not dso.startswith("[JIT]") else "runtime stubs"
    owners[key] += share
per_request = total / hz / (rps * seconds) * 1e6
print(f"all: {per_request:.0f} µs per request (perf scale)")
for key, share in owners.most_common(16):
    print(f"{share * per_request / 100:7.1f}  {key}")
