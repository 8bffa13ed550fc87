namespace InferenceSidecar.Configuration;

/// <summary><c>Sidecar:Redaction:Pii</c>.</summary>
internal sealed class PiiOptions
{
    public bool Email { get; set; }

    public bool Phone { get; set; }

    public bool Iban { get; set; }
}
