using System.Collections.Concurrent;

namespace InferenceSidecar.RateLimiting;

/// <summary>The models each user asked for recently on this replica, so the status endpoint can list them. Bounded.</summary>
internal sealed class RecentModels
{
    private const int MaxUsers = 10_000;
    private const int MaxModelsPerUser = 32;
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _byUser = new(StringComparer.Ordinal);

    /// <remarks>
    /// Called on every limited request: a pair already known is found without a lock. <c>ConcurrentDictionary.Count</c>
    /// takes every lock of the dictionary, so the bounds are read only when something would be added.
    /// </remarks>
    public void Add(string user, string? model)
    {
        if (model is null)
        {
            return;
        }

        if (!_byUser.TryGetValue(user, out var models))
        {
            if (_byUser.Count >= MaxUsers)
            {
                return;
            }

            models = _byUser.GetOrAdd(user, static _ => new ConcurrentDictionary<string, byte>(StringComparer.Ordinal));
        }

        if (!models.ContainsKey(model) && models.Count < MaxModelsPerUser)
        {
            models.TryAdd(model, 0);
        }
    }

    public IEnumerable<string> For(string user) => _byUser.TryGetValue(user, out var models) ? models.Keys : [];
}
