namespace InferenceSidecar.Operations;

/// <summary><c>Sidecar:CacheWarm</c>: who warms the response cache, and an optional file of requests warmed at start.</summary>
internal sealed class CacheWarmOptions
{
    public const string Section = "Sidecar:CacheWarm";

    /// <summary>The system user the warming requests are made as (identity header mode): its limits and usage apply.</summary>
    public string User { get; set; } = "cache-warmer";

    /// <summary>With client keys configured: a secret reference (<c>env:</c>/<c>file:</c>) to the system user's client key.</summary>
    public string? ClientKey { get; set; }

    /// <summary>A JSON file of requests (the <c>POST /admin/cache/warm</c> body) warmed once, shortly after start.</summary>
    public string? File { get; set; }

    /// <summary>The most items one warm call (or the file) may hold.</summary>
    public int MaxItems { get; set; } = 100;
}
