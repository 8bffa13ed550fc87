namespace InferenceSidecar.Keys;

internal enum SecretSource
{
    None,
    Environment,
    File,
}
