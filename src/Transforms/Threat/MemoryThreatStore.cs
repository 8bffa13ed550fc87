using System.Collections.Concurrent;

namespace InferenceSidecar.Threat;

/// <summary>
/// Scores in this process, when no Redis is configured. Bounded: past <c>maxEntries</c>, scores that have decayed
/// below 0.01 are dropped, and if that is not enough the whole table is (scores are a defence, not a ledger).
/// </summary>
internal sealed class MemoryThreatStore(Func<int> maxEntries, Func<double> halfLifeSeconds, Func<double> now) : IThreatStore
{
    private readonly ConcurrentDictionary<string, ThreatReading> _scores = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public ValueTask<ThreatReading> ReadAsync(string subject, CancellationToken cancellationToken) =>
        new(_scores.GetValueOrDefault(subject, ThreatReading.None));

    public ValueTask<ThreatReading> RaiseAsync(string subject, double weight, double now, double halfLifeSeconds, CancellationToken cancellationToken)
    {
        ThreatReading raised;
        lock (_gate)
        {
            var current = _scores.GetValueOrDefault(subject, ThreatReading.None);
            raised = new ThreatReading(current.DecayedTo(now, halfLifeSeconds) + weight, now);
            _scores[subject] = raised;
        }

        Trim();
        return new(raised);
    }

    public ValueTask ClearAsync(string subject, CancellationToken cancellationToken)
    {
        _scores.TryRemove(subject, out _);
        return ValueTask.CompletedTask;
    }

    private void Trim()
    {
        if (_scores.Count <= maxEntries())
        {
            return;
        }

        var at = now();
        var halfLife = halfLifeSeconds();
        foreach (var (subject, reading) in _scores)
        {
            if (reading.DecayedTo(at, halfLife) < 0.01)
            {
                _scores.TryRemove(subject, out _);
            }
        }

        if (_scores.Count > maxEntries())
        {
            _scores.Clear();
        }
    }
}
