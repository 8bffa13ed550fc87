using System.Collections.Concurrent;

namespace InferenceSidecar.RateLimiting;

/// <summary>The models each user asked for recently on this replica, so the status endpoint can list them. Bounded.</summary>
internal sealed class RecentModels
{
    private const int MaxUsers = 10_000;
    private const int MaxModelsPerUser = 32;
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _byUser = new(StringComparer.Ordinal);

    public void Add(string user, string? model)
    {
        if (model is null || (_byUser.Count >= MaxUsers && !_byUser.ContainsKey(user)))
        {
            return;
        }

        var models = _byUser.GetOrAdd(user, static _ => new ConcurrentDictionary<string, byte>(StringComparer.Ordinal));
        if (models.Count < MaxModelsPerUser)
        {
            models.TryAdd(model, 0);
        }
    }

    public IEnumerable<string> For(string user) => _byUser.TryGetValue(user, out var models) ? models.Keys : [];
}
