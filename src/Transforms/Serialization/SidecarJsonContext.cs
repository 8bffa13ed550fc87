using System.Text.Json.Serialization;

namespace InferenceSidecar.Serialization;

/// <summary>
/// Source-generated System.Text.Json metadata for every JSON document the sidecar writes itself (health, limits, admin):
/// no reflection, so the NativeAOT build serializes exactly as the JIT build. The documents are dictionaries whose
/// <c>object</c> values are resolved by their runtime type, so every type that appears as such a value is listed here;
/// a value of an unlisted type throws <see cref="NotSupportedException"/> (the tests cover every endpoint on the JIT
/// build, which uses this same context). Default options, as <c>JsonSerializer</c>'s own defaults: output unchanged.
/// </summary>
[JsonSerializable(typeof(Dictionary<string, object?>))]
[JsonSerializable(typeof(Dictionary<string, string?>))]
[JsonSerializable(typeof(Dictionary<string, Dictionary<string, string?>>))]
[JsonSerializable(typeof(Dictionary<string, Dictionary<string, object>>))]
[JsonSerializable(typeof(Dictionary<string, long>))]
[JsonSerializable(typeof(Dictionary<string, int>))]
[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(List<Dictionary<string, object>>))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(List<Dictionary<string, object?>>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(double?))]
internal sealed partial class SidecarJsonContext : JsonSerializerContext;
