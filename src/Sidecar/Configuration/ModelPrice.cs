using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary>One entry of <c>Sidecar:Pricing</c>: USD per million tokens.</summary>
internal sealed class ModelPrice
{
    [Range(0, 1_000_000, ErrorMessage = "InputPerMillion must be between 0 and 1000000.")]
    public double InputPerMillion { get; set; }

    [Range(0, 1_000_000, ErrorMessage = "OutputPerMillion must be between 0 and 1000000.")]
    public double OutputPerMillion { get; set; }

    /// <summary>Cost in micro-USD: USD per million tokens × tokens.</summary>
    public double CostMicros(long inputTokens, long outputTokens) => (inputTokens * InputPerMillion) + (outputTokens * OutputPerMillion);
}
