namespace InferenceSidecar.ModelPolicy;

/// <summary>Set by model policy when it refuses a request: <c>policy:&lt;code&gt;</c>, for the request log and recent refusals.</summary>
internal sealed class ModelPolicyFeature
{
    public required string Refusal { get; init; }
}
