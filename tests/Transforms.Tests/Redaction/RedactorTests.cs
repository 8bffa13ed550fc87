using System.Text;
using System.Text.Json;
using InferenceSidecar.Testing;
using InferenceSidecar.Redaction;

namespace InferenceSidecar.Transforms.Tests.Redaction;

public sealed class RedactorTests
{
    private static readonly Redactor Secrets = new(DetectorCatalog.Secrets);

    public static TheoryData<string, string> PositiveCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var (type, secret) in SecretCorpus.Positives)
        {
            data.Add(type, secret);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PositiveCases))]
    public void Redact_EachSecretKind_ReplacedByTypedMarker(string type, string secret)
    {
        var findings = new List<string>();

        var result = Secrets.Redact($"here it is: {secret} -- thanks", findings);

        Assert.NotNull(result);
        Assert.DoesNotContain(secret, result, StringComparison.Ordinal);
        Assert.Contains($"[REDACTED:{type}]", result, StringComparison.Ordinal);
        Assert.Contains(type, findings);
    }

    [Fact]
    public void Redact_SecretsInContext_OnlyTheSecretPartGoes()
    {
        foreach (var (type, text, secret) in SecretCorpus.InContext)
        {
            var result = Secrets.Redact(text, []);

            Assert.NotNull(result);
            Assert.DoesNotContain(secret, result, StringComparison.Ordinal);
            Assert.Contains($"[REDACTED:{type}]", result, StringComparison.Ordinal);
        }

        Assert.StartsWith("Server=db.internal;User Id=sa;Password=[REDACTED:connection_string_password];", Secrets.Redact(SecretCorpus.InContext[1].Text, []), StringComparison.Ordinal);
    }

    [Fact]
    public void Redact_Negatives_Untouched()
    {
        foreach (var text in SecretCorpus.Negatives.Append(SecretCorpus.Base64Image))
        {
            var findings = new List<string>();
            Assert.True(Secrets.Redact(text, findings) is null, $"'{text}' was redacted as {string.Join(",", findings)}");
        }
    }

    [Fact]
    public void Redact_PropertyOverRandomTexts_IdempotentAndUnchangedWithoutSecrets()
    {
        var random = new Random(42);
        const string alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,;:-_/{}\"\n";
        for (var i = 0; i < 300; i++)
        {
            // Arrange: random text, sometimes with a secret spliced in.
            var text = new string(Enumerable.Range(0, random.Next(10, 200)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            var withSecret = random.Next(2) == 0;
            if (withSecret)
            {
                var secret = SecretCorpus.Positives[random.Next(SecretCorpus.Positives.Length)].Secret;
                var at = random.Next(text.Length);
                text = text[..at] + " " + secret + " " + text[at..];
            }

            // Act
            var once = Secrets.Redact(text, []);
            var twice = once is null ? null : Secrets.Redact(once, []);

            // Assert
            if (withSecret)
            {
                Assert.True(once is not null, "missed a secret in: " + text);
            }

            else
            {
                Assert.Null(once); // nothing secret in it: untouched
            }

            if (once is not null)
            {
                Assert.Null(twice); // idempotent: nothing left to find
            }
        }
    }

    [Fact]
    public void JsonRedact_EscapedAndNestedSecrets_FoundAndDocumentStaysValidAndOtherwiseIdentical()
    {
        // \u0073 is 's': the key is hidden behind a JSON escape; another sits in a tool call's arguments string.
        var json = """{"model":"gpt-4o","messages":[{"role":"user","content":"line1\nkey \u0073k-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7cDE0fGH3i end"},{"role":"assistant","tool_calls":[{"function":{"arguments":"{\"token\":\"ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8\"}"}}]}],"temperature":0.5}""";
        var findings = new List<string>();

        var result = JsonRedactor.Redact(Encoding.UTF8.GetBytes(json), Secrets, findings);

        Assert.NotNull(result);
        var text = Encoding.UTF8.GetString(result);
        using var document = JsonDocument.Parse(result);
        Assert.Equal(["openai_key", "github_token"], findings);
        Assert.StartsWith("""{"model":"gpt-4o","messages":[{"role":"user","content":""", text, StringComparison.Ordinal);
        Assert.EndsWith(""","temperature":0.5}""", text, StringComparison.Ordinal);
        Assert.Contains("[REDACTED:openai_key]", document.RootElement.GetProperty("messages")[0].GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("ghp_", text, StringComparison.Ordinal);
        Assert.Null(JsonRedactor.Redact(result, Secrets, []));
    }

    [Fact]
    public void JsonRedact_PropertyOverRandomDocuments_ValidJsonAndOnlyStringsChange()
    {
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            // Arrange: a random document whose strings sometimes hold a secret, sometimes escaped characters.
            var strings = Enumerable.Range(0, random.Next(1, 6)).Select(_ =>
            {
                var text = "text " + random.Next(100000) + (random.Next(3) == 0 ? "\\n\\t\\u00e9" : string.Empty);
                return random.Next(2) == 0 ? text + " " + SecretCorpus.Positives[random.Next(SecretCorpus.Positives.Length)].Secret : text;
            }).ToArray();
            var json = "{\"model\":\"m\",\"n\":" + random.Next(1000) + ",\"messages\":[" + string.Join(",", strings.Select(t => "{\"role\":\"user\",\"content\":\"" + t + "\"}")) + "],\"flag\":true}";
            var input = Encoding.UTF8.GetBytes(json);

            // Act
            var output = JsonRedactor.Redact(input, Secrets, []) ?? input;

            // Assert: valid JSON with the same shape; every non-string token unchanged.
            using var before = JsonDocument.Parse(input);
            using var after = JsonDocument.Parse(output);
            Assert.Equal(before.RootElement.GetProperty("n").GetInt32(), after.RootElement.GetProperty("n").GetInt32());
            Assert.Equal(before.RootElement.GetProperty("messages").GetArrayLength(), after.RootElement.GetProperty("messages").GetArrayLength());
            Assert.True(after.RootElement.GetProperty("flag").GetBoolean());
            foreach (var message in after.RootElement.GetProperty("messages").EnumerateArray())
            {
                var content = message.GetProperty("content").GetString()!;
                Assert.DoesNotContain(SecretCorpus.Positives, p => content.Contains(p.Secret, StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void JsonRedact_SecretsAsPropertyNames_RedactedAndDocumentStaysValid()
    {
        // A key used as a property name (top level, in a tool's parameter schema, in metadata) leaves just as surely.
        var json = """{"model":"gpt-4o","sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7cDE0fGH3i":1,"tools":[{"function":{"parameters":{"properties":{"AKIAIOSFODNN7EXAMPLE":{"type":"string"}}}}}],"metadata":{"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----":"x"}}""";
        var findings = new List<string>();

        var result = JsonRedactor.Redact(Encoding.UTF8.GetBytes(json), Secrets, findings);

        Assert.NotNull(result);
        var text = Encoding.UTF8.GetString(result);
        using var document = JsonDocument.Parse(result);
        Assert.DoesNotContain("sk-proj-", text, StringComparison.Ordinal);
        Assert.DoesNotContain("AKIAIOSFODNN7EXAMPLE", text, StringComparison.Ordinal);
        Assert.DoesNotContain("MIIEvQIBADAN", text, StringComparison.Ordinal);
        Assert.Equal(3, findings.Count);
        Assert.Equal("gpt-4o", document.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void JsonRedact_NothingFound_ReturnsNull()
    {
        var json = """{"model":"gpt-4o","messages":[{"role":"user","content":"123e4567-e89b-12d3-a456-426614174000 is my order"}]}""";

        Assert.Null(JsonRedactor.Redact(Encoding.UTF8.GetBytes(json), Secrets, []));
    }

    [Theory]
    [InlineData("write to jane.doe+ai@example.co.uk today", "email")]
    [InlineData("call me on +44 20 7946 0958 tonight", "phone")]
    [InlineData("pay to GB82 WEST 1234 5698 7654 32 please", "iban")]
    public void Redact_PersonalDataDetectors_OnlyWhenEnabled(string text, string type)
    {
        var withPii = new Redactor([.. DetectorCatalog.Secrets, .. DetectorCatalog.PersonalData]);

        var findings = new List<string>();
        var redacted = withPii.Redact(text, findings);

        Assert.Equal([type], findings);
        Assert.Contains($"[REDACTED:{type}]", redacted, StringComparison.Ordinal);
        Assert.Null(Secrets.Redact(text, []));
    }

    [Theory]
    [InlineData("GB82 WEST 1234 5698 7654 32", true)]
    [InlineData("GB82 WEST 1234 5698 7654 33", false)]
    public void IsIban_CheckDigits(string iban, bool valid) => Assert.Equal(valid, DetectorCatalog.IsIban(iban));

    [Fact]
    public void MayContain_EverySecretAndNearMiss_NeverFalseWhereFindFinds()
    {
        // Arrange: every corpus secret alone and in context, every negative, and mixed texts
        var texts = SecretCorpus.Positives.Select(p => $"here it is: {p.Secret} -- thanks")
            .Concat(SecretCorpus.InContext.Select(c => c.Text))
            .Concat(SecretCorpus.Negatives)
            .Concat(SecretCorpus.Negatives.Select(n => n + " and " + SecretCorpus.Positives[0].Secret))
            .ToList();

        foreach (var text in texts)
        {
            // Act
            var may = Secrets.MayContain(text);
            var found = Secrets.Find(text);

            // Assert: the cheap check is never the reason a secret is missed
            Assert.True(may || found.Count == 0, $"MayContain said no but Find found {found.Count} in: {text}");
        }

        Assert.Contains(texts, t => Secrets.MayContain(t));
        Assert.Contains(texts, t => !Secrets.MayContain(t));
    }

    [Fact]
    public void JsonRedact_CleanPromptOf64Kb_NothingFoundAndNoCopyOfTheText()
    {
        // Arrange: a 64 KB prompt with no secret (its UTF-16 string would be 128 KB, on the large-object heap)
        var words = string.Concat(Enumerable.Repeat("the quick brown fox reviews config files and stack traces; ", 1200));
        var json = JsonSerializer.SerializeToUtf8Bytes(new { model = "gpt-4o", messages = new[] { new { role = "user", content = words } } });
        var findings = new List<string>();
        JsonRedactor.Redact(json, Secrets, findings); // JIT and pool warm-up
        var before = GC.GetAllocatedBytesForCurrentThread();

        // Act
        var result = JsonRedactor.Redact(json, Secrets, findings);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Assert
        Assert.Null(result);
        Assert.Empty(findings);
        Assert.True(allocated < 32 * 1024, $"allocated {allocated} bytes for a clean 64 KB prompt");
    }
}
