using System.Globalization;

namespace InferenceSidecar.Tests.Infrastructure;

/// <summary>Prices a test-only model: unpriced models are refused (403) for users with a cost budget by default.</summary>
internal static class PricingSettings
{
    public static void Price(this Dictionary<string, string?> settings, string model, double inputPerMillion = 0, double outputPerMillion = 0)
    {
        settings[$"Sidecar:Pricing:Models:{model}:InputPerMillion"] = inputPerMillion.ToString(CultureInfo.InvariantCulture);
        settings[$"Sidecar:Pricing:Models:{model}:OutputPerMillion"] = outputPerMillion.ToString(CultureInfo.InvariantCulture);
    }
}
