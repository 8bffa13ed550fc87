using System.Text.RegularExpressions;
using CsCheck;
using InferenceSidecar.Testing;
using InferenceSidecar.Redaction;

namespace InferenceSidecar.Transforms.Tests.Redaction;

/// <summary>
/// The anchored fast path against the plain one (every regex over the whole text, which is what a detector without an
/// anchor does): on random text with secrets, personal data, near misses and anchor fragments planted, both find exactly
/// the same spans, say the same in MayContain, and redact to the same text.
/// </summary>
public sealed class RedactorFastPathTests
{
    // The same patterns without the 100 ms budget: on a loaded machine a timeout (which fails closed) would differ
    // between the two runs for reasons that are not the anchors'.
    private static readonly Detector[] All = Untimed([.. DetectorCatalog.Secrets, .. DetectorCatalog.PersonalData]);
    private static readonly Redactor Fast = new(All);
    private static readonly Redactor Slow = new(All.Select(d => d with { Anchor = null }).ToArray());

    // Pieces that sit on the detectors' edges: anchors without the rest, separators, Unicode digits (\d matches them),
    // characters that case-fold oddly (Kelvin sign, long s), look-around neighbours.
    private static readonly string[] Pieces =
    [
        "sk-", "sk-ant-", "AIza", "AKIA", "ASIA", "aws", "AWS_secret key", " = ", "ghp_", "github_pat_", "xox", "xoxb-",
        "_live_", "sk_live_", "eyJ", "eyJhbGciOiJIUzI1NiJ9", ".", "://", "http://", "user:", "@", "password=", "Pwd = ",
        "-----BEGIN ", "PRIVATE KEY-----", "-----END PRIVATE KEY-----", "1234", "4111", "5500", "0000", "-", " ", "  ",
        "+44", "(20)", "7946", "0958", "GB82", "WEST", "DE89", "3704", "0044", "0532", "0130", "00", "\u0664\u0661\u0661\u0661",
        "\u212A", "\u017F", "é", "\n", "\"", "'", ";", "/", "+", "x", "ab", "Z9", "q_", "jane.doe", "example.com", ".co.uk",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij0123456789", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ];

    private static readonly string[] Planted =
    [
        .. SecretCorpus.Positives.Select(p => p.Secret),
        .. SecretCorpus.InContext.Select(c => c.Text),
        .. SecretCorpus.Negatives,
        "write to jane.doe+ai@example.co.uk today", "call me on +44 20 7946 0958 tonight", "pay to GB82 WEST 1234 5698 7654 32 please",
        "378282246310005", "3782 822463 10005", "4111111111111111", "DE89 3704 0044 0532 0130 00",
    ];

    private static readonly Gen<string> Texts =
        Gen.OneOf(
                Gen.Int[0, Pieces.Length - 1].Select(i => Pieces[i]),
                Gen.Int[0, Planted.Length - 1].Select(i => Planted[i]),
                Gen.Char["a-zA-Z0-9 .-_@:/+"].Array[1, 12].Select(c => new string(c)))
            .Array[0, 40]
            .Select(parts => string.Concat(parts));

    [Fact]
    public void Find_RandomTextWithPlantedSecrets_FastPathFindsExactlyWhatEveryRegexFinds()
    {
        Texts.Sample(text =>
        {
            var fast = Fast.Find(text);
            var slow = Slow.Find(text);
            Assert.True(fast.SequenceEqual(slow), $"fast [{string.Join(",", fast)}] slow [{string.Join(",", slow)}] in: {text}");
            Assert.Equal(Slow.MayContain(text), Fast.MayContain(text));
            Assert.Equal(Slow.Redact(text, []), Fast.Redact(text, []));
        }, iter: 6_000);
    }

    [Fact]
    public void Find_SecretsOnlyDetectors_FastPathFindsExactlyWhatEveryRegexFinds()
    {
        var secrets = Untimed(DetectorCatalog.Secrets);
        var fast = new Redactor(secrets);
        var slow = new Redactor(secrets.Select(d => d with { Anchor = null }).ToArray());
        Texts.Sample(text =>
        {
            Assert.True(fast.Find(text).SequenceEqual(slow.Find(text)), "differs in: " + text);
            Assert.Equal(slow.MayContain(text), fast.MayContain(text));
        }, iter: 3_000);
    }

    [Fact]
    public void Find_LongTextWithSecretsFarApart_FastPathFindsEveryOne()
    {
        // Windows around anchors far apart, at both ends of a long text, and anchors with no secret between them.
        var filler = string.Concat(Enumerable.Repeat("plain prose with 2024 numbers, a@ sign and sk- dashes; ", 400));
        var text = SecretCorpus.Positives[0].Secret + " " + filler + "jane@example.com " + filler + "4111 1111 1111 1111";

        var fast = Fast.Find(text);

        Assert.Equal(Slow.Find(text), fast);
        Assert.Equal(["openai_key", "email", "credit_card"], fast.Select(f => f.Type));
    }

    private static Detector[] Untimed(IEnumerable<Detector> detectors) =>
        detectors.Select(d => d with { Pattern = new Regex(d.Pattern.ToString(), d.Pattern.Options, Regex.InfiniteMatchTimeout) }).ToArray();
}
