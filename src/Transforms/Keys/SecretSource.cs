namespace InferenceSidecar.Transforms.Keys;

internal enum SecretSource
{
    None,
    Environment,
    File,
}
