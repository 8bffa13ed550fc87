namespace InferenceSidecar.Analytics;

/// <summary>One row of usage analytics: a UTC day (<c>yyyy-MM-dd</c>), a user and a model.</summary>
internal readonly record struct UsageKey(string Day, string User, string Model);
