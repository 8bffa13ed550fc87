using InferenceSidecar.Metrics;

namespace InferenceSidecar.Analytics;

/// <summary>
/// Accounts one served request (answered 2xx by the upstream, or from the cache): token and cost metrics (model label
/// bounded) and the per user, model and day analytics row (the real model name).
/// </summary>
internal sealed class UsageRecorder(IUsageStore store, SidecarMetrics metrics, ModelLabels models, TimeProvider time)
{
    private (DateOnly Date, string Text) _today;

    public void Record(string route, string user, string? model, long inputTokens, long outputTokens, double costMicros, bool cacheHit, double savedCostMicros)
    {
        if (!cacheHit)
        {
            metrics.Usage(route, models.For(model), inputTokens, outputTokens, costMicros / 1_000_000);
        }

        var name = model is null ? "unknown" : model.Length > 200 || model.Contains('\u001f') ? model[..Math.Min(200, model.Length)].Replace('\u001f', '_') : model;
        store.Add(
            new UsageKey(Today(), user, name),
            new UsageEvent(1, cacheHit ? 0 : inputTokens, cacheHit ? 0 : outputTokens, cacheHit ? 0 : costMicros, cacheHit ? 1 : 0, savedCostMicros));
    }

    private string Today()
    {
        var date = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var today = _today;
        if (today.Date != date || today.Text is null)
        {
            today = (date, date.ToString(UsageQuery.DayFormat, System.Globalization.CultureInfo.InvariantCulture));
            _today = today;
        }

        return today.Text;
    }
}
