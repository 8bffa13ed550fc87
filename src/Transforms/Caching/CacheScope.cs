namespace InferenceSidecar.Caching;

/// <summary>Who may share a cache entry.</summary>
internal enum CacheScope
{
    /// <summary>Only the same user (the default): two users never share an entry.</summary>
    User,

    /// <summary>Every user of the route (opt-in, for routes serving public, non-personal prompts).</summary>
    Shared,
}
