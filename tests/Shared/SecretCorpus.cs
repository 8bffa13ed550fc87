namespace InferenceSidecar.Testing;

/// <summary>
/// Synthetic secrets of the right shapes (all made up) and look-alikes that must pass untouched. Shared by the
/// redactor's unit tests and the end-to-end test through the sidecar.
/// </summary>
internal static class SecretCorpus
{
    public static readonly (string Type, string Secret)[] Positives =
    [
        ("openai_key", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7cDE0fGH3i"),
        ("openai_key", "sk-9f8e7d6c5b4a39281706f5e4d3c2b1a0ZyXwVuTsRqPo"),
        ("anthropic_key", "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRS-AAAA"),
        ("google_api_key", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
        ("aws_access_key_id", "AKIAZ7QWERTY12345678"),
        ("github_token", "ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8"),
        ("github_token", "github_pat_11ABCDEFG0abcdefghijklmn_opqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghi"),
        ("slack_token", "xoxb-2048-4096-zYxWvUtSrQpOnM"),
        ("stripe_live_key", "sk_live_51HqZx2LkD9fJ3mN8pQ4rS6tU"),
        ("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
        ("credit_card", "4111 1111 1111 1111"),
        ("credit_card", "5500-0000-0000-0004"),
    ];

    /// <summary>Secrets that sit inside a context; only the secret part must go.</summary>
    public static readonly (string Type, string Text, string Secret)[] InContext =
    [
        ("aws_secret_access_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("connection_string_password", "Server=db.internal;User Id=sa;Password=Sup3r-S3cret!;Encrypt=true", "Sup3r-S3cret!"),
        ("url_password", "connect to postgres://admin:hunter2pass@db.internal:5432/app now", "hunter2pass"),
        ("private_key", "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naFDrBz9vFqU4yrGKf1WjVZ2hYkW0T2dQbFv1SnT6nJ2gS9Q5s7kq5pLmN8v0Ww==\n-----END RSA PRIVATE KEY-----\nthanks", "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn"),
    ];

    public static readonly string[] Negatives =
    [
        "123e4567-e89b-12d3-a456-426614174000",
        "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "for (int i = 0; i < 10; i++) { sum += i; } // skip-this loop",
        "Card on file ends with 1234; order 1234567812345678 shipped",
        "please reset your password tomorrow",
        "sk-short",
        "eyJub3RhbGciOjF9.eyJzdWIiOiJ4In0x.signature",
        "The AWS docs mention IAM roles and AKIA prefixes in general.",
        "https://example.com/docs?page=2#section",
        "ssh://git.example.org/org/repo.git",
    ];

    public const string Base64Image = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg4111111111111111";
}
