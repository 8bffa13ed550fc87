using System.Text.Json;
using System.Text.RegularExpressions;

namespace InferenceSidecar.Redaction;

/// <summary>
/// The built-in detectors. Secrets (on by default): provider API keys (OpenAI, Anthropic, Google), AWS access key ids
/// and secret keys, GitHub, Slack and Stripe live tokens, PEM private keys, JWTs (header decoded), passwords in
/// connection strings and URLs, card numbers (Luhn). Personal data (off by default): e-mail, phone, IBAN (mod 97).
/// Order matters: specific patterns run before general ones (Anthropic's <c>sk-ant-</c> before OpenAI's <c>sk-</c>).
/// Each names its anchor (see <see cref="Anchor"/>): the literal every match starts with, or for the bounded ones the
/// literal or digit run every match holds near its start, with the longest match (the lengths follow from the patterns'
/// quantifiers; a pattern changed here must have its anchor checked again, and the fast/slow property tests do so).
/// </summary>
internal static partial class DetectorCatalog
{
    private const int TimeoutMs = 100;

    public static IReadOnlyList<Detector> Secrets { get; } =
    [
        new("private_key", PrivateKey(), null, Anchor.StartsWith("-----BEGIN ")),
        new("anthropic_key", AnthropicKey(), null, Anchor.StartsWith("sk-ant-")),
        new("openai_key", OpenAIKey(), null, Anchor.StartsWith("sk-")),
        new("google_api_key", GoogleKey(), null, Anchor.StartsWith("AIza")),
        new("aws_access_key_id", AwsAccessKeyId(), null, Anchor.StartsWith("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")),
        new("aws_secret_access_key", AwsSecretKey(), null, Anchor.StartsWith("aws")),
        new("github_token", GitHubToken(), null, Anchor.StartsWith("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
        new("slack_token", SlackToken(), null, Anchor.StartsWith("xox")),
        new("stripe_live_key", StripeLiveKey(), null, Anchor.StartsWith("sk_live_", "rk_live_")),
        new("jwt", Jwt(), IsJwt, Anchor.StartsWith("eyJ")),
        new("url_password", UrlPassword(), null, Anchor.Contains(lead: 21, span: 410, UserInfoFollows, "://")),
        new("connection_string_password", ConnectionStringPassword(), null, Anchor.StartsWith("password", "pwd")),
        new("credit_card", CardNumber(), PassesLuhn, Anchor.DigitRun(minRun: 4, lead: 0, span: 19, minDigits: 15)),
    ];

    public static IReadOnlyList<Detector> PersonalData { get; } =
    [
        new("email", Email(), null, Anchor.Contains(lead: 64, span: 343, "@")),
        new("iban", Iban(), IsIban, Anchor.DigitRun(minRun: 2, lead: 2, span: 44, minDigits: 2, lettersBefore: 2)),
        new("phone", Phone(), IsPhone, Anchor.DigitRun(minRun: 1, lead: 1, span: 21, minDigits: 9)),
    ];

    [GeneratedRegex(@"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----", RegexOptions.None, TimeoutMs)]
    private static partial Regex PrivateKey();

    [GeneratedRegex(@"\bsk-ant-[A-Za-z0-9_-]{20,}", RegexOptions.None, TimeoutMs)]
    private static partial Regex AnthropicKey();

    [GeneratedRegex(@"\bsk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}", RegexOptions.None, TimeoutMs)]
    private static partial Regex OpenAIKey();

    [GeneratedRegex(@"\bAIza[0-9A-Za-z_-]{35}", RegexOptions.None, TimeoutMs)]
    private static partial Regex GoogleKey();

    [GeneratedRegex(@"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b", RegexOptions.None, TimeoutMs)]
    private static partial Regex AwsAccessKeyId();

    [GeneratedRegex(@"(?i)aws[\w ]{0,20}?(?:secret|private)[\w ]{0,20}?(?:key)?[\w ]{0,10}?[""']?\s*[:=]\s*[""']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", RegexOptions.None, TimeoutMs)]
    private static partial Regex AwsSecretKey();

    [GeneratedRegex(@"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b", RegexOptions.None, TimeoutMs)]
    private static partial Regex GitHubToken();

    [GeneratedRegex(@"\bxox[abposr]-[A-Za-z0-9-]{10,}", RegexOptions.None, TimeoutMs)]
    private static partial Regex SlackToken();

    [GeneratedRegex(@"\b(?:sk|rk)_live_[A-Za-z0-9]{16,}", RegexOptions.None, TimeoutMs)]
    private static partial Regex StripeLiveKey();

    [GeneratedRegex(@"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", RegexOptions.None, TimeoutMs)]
    private static partial Regex Jwt();

    [GeneratedRegex(@"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^/\s:@""']{1,128}:([^@/\s""']{1,256})@", RegexOptions.None, TimeoutMs)]
    private static partial Regex UrlPassword();

    [GeneratedRegex(@"(?i)\b(?:password|pwd)\s*=\s*([^;""'\s]{1,256})", RegexOptions.None, TimeoutMs)]
    private static partial Regex ConnectionStringPassword();

    // Card numbers as people write them: 4-4-4-4 groups (spaces, dashes or none), or Amex 4-6-5.
    [GeneratedRegex(@"(?<![\d-])(?:\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}|\d{4}[ -]?\d{6}[ -]?\d{5})(?![\d-])", RegexOptions.None, TimeoutMs)]
    private static partial Regex CardNumber();

    [GeneratedRegex(@"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}\b", RegexOptions.None, TimeoutMs)]
    private static partial Regex Email();

    [GeneratedRegex(@"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", RegexOptions.None, TimeoutMs)]
    private static partial Regex Iban();

    [GeneratedRegex(@"(?<![\w+])\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}(?!\w)", RegexOptions.None, TimeoutMs)]
    private static partial Regex Phone();

    /// <summary>Luhn checksum over 13–19 digits.</summary>
    public static bool PassesLuhn(string text)
    {
        int count = 0, sum = 0;
        for (var i = text.Length - 1; i >= 0; i--)
        {
            var c = text[i];
            if (!char.IsAsciiDigit(c))
            {
                continue;
            }

            var d = c - '0';
            if (count++ % 2 == 1)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }

            sum += d;
        }

        return count is >= 13 and <= 19 && sum % 10 == 0;
    }

    /// <summary>A JWT's first segment must decode to a JSON object with an <c>alg</c>.</summary>
    public static bool IsJwt(string text)
    {
        var header = text[..text.IndexOf('.', StringComparison.Ordinal)].Replace('-', '+').Replace('_', '/');
        header = header.PadRight(header.Length + ((4 - (header.Length % 4)) % 4), '=');
        try
        {
            using var json = JsonDocument.Parse(Convert.FromBase64String(header));
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("alg", out _);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return false;
        }
    }

    /// <summary>ISO 13616 check digits (mod 97 = 1).</summary>
    public static bool IsIban(string text)
    {
        var compact = text.Replace(" ", string.Empty, StringComparison.Ordinal);
        if (compact.Length is < 15 or > 34)
        {
            return false;
        }

        var rearranged = compact[4..] + compact[..4];
        var remainder = 0;
        foreach (var c in rearranged)
        {
            var value = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetterUpper(c) ? c - 'A' + 10 : -1;
            if (value < 0)
            {
                return false;
            }

            remainder = value > 9 ? ((remainder * 100) + value) % 97 : ((remainder * 10) + value) % 97;
        }

        return remainder == 1;
    }

    /// <summary>
    /// After a URL's <c>://</c>, <see cref="UrlPassword"/> needs 1–128 characters other than <c>/ : @ " '</c> and
    /// whitespace, then a <c>:</c>: the first of those characters must be that colon (most URLs reach a <c>/</c> first).
    /// </summary>
    private static bool UserInfoFollows(ReadOnlySpan<char> text, int at)
    {
        var start = at + 3;
        for (var i = start; i < text.Length && i <= start + 128; i++)
        {
            var c = text[i];
            if (c == ':')
            {
                return i > start;
            }

            if (c is '/' or '@' or '"' or '\'' || char.IsWhiteSpace(c))
            {
                return false;
            }
        }

        return false;
    }

    private static bool IsPhone(string text) => text.Count(char.IsAsciiDigit) is >= 8 and <= 15;

    /// <summary>A user's detector from configuration; its pattern is checked at start (and on reload).</summary>
    public static Detector Custom(string name, string pattern) =>
        new(name, new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(TimeoutMs)));

    internal static string Describe(IEnumerable<string> names) => string.Join(", ", names.Distinct());
}
