namespace InferenceSidecar.RateLimiting;

/// <summary>A bucket after a reservation (or a peek): what is left and how long until it is full again.</summary>
internal readonly record struct BucketReading(double Remaining, TimeSpan ResetAfter);
