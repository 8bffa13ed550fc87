namespace InferenceSidecar.Keys;

/// <summary>
/// Where a secret lives: an environment variable (<c>env:NAME</c>), a file such as a mounted Kubernetes secret
/// (<c>file:/path</c>), or nowhere (<c>none</c>: no credential is sent, for self-hosted servers).
/// The reference itself is never secret and may be logged; the value it resolves to never is.
/// </summary>
internal readonly record struct SecretReference(SecretSource Source, string Location)
{
    public static bool TryParse(string? text, out SecretReference reference, out string error)
    {
        reference = default;
        error = string.Empty;
        var value = text?.Trim() ?? string.Empty;
        if (value.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            reference = new SecretReference(SecretSource.None, string.Empty);
            return true;
        }

        if (value.StartsWith("env:", StringComparison.OrdinalIgnoreCase) && value.Length > 4)
        {
            reference = new SecretReference(SecretSource.Environment, value[4..]);
            return true;
        }

        if (value.StartsWith("file:", StringComparison.OrdinalIgnoreCase) && value.Length > 5)
        {
            reference = new SecretReference(SecretSource.File, value[5..]);
            return true;
        }

        error = "must be 'env:VARIABLE', 'file:/path/to/secret' or 'none'";
        return false;
    }

    /// <summary>What a log line may say about this reference: the variable or file name, never a value.</summary>
    public override string ToString() => Source switch
    {
        SecretSource.Environment => "env:" + Location,
        SecretSource.File => "file:" + Location,
        _ => "none",
    };
}
