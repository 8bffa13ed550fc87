using System.Text;
using System.Text.Json;
using InferenceSidecar.Caching;
using InferenceSidecar.Proxy;

namespace InferenceSidecar.Transforms.Tests.Proxy;

public sealed class BodyEditsTests
{
    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void Apply_ReplacementsAndAddedMembers_OffsetsReferToTheOriginalBody()
    {
        var body = B("""{"model":"a","max_tokens":5,"stream_options":{}}""");
        Assert.True(InferenceRequestParser.TryParse(body, out var info));
        var edits = new BodyEdits();

        edits.Replace(info.ModelToken.Start, info.ModelToken.Length, B("\"longer-model\""));
        edits.Replace(info.MaxOutputToken.Start, info.MaxOutputToken.Length, B("100"));
        edits.AddMember(info.StreamOptionsValue.Start, "include_usage", B("true"));
        edits.AddMember(info.RootStart, "n", B("1"));

        Assert.Equal("""{"n":1,"model":"longer-model","max_tokens":100,"stream_options":{"include_usage":true}}""", Encoding.UTF8.GetString(edits.Apply(body)));
    }

    [Fact]
    public void Replace_ContainingAnEarlierEdit_SupersedesIt()
    {
        var body = B("""{"model":"secret","stream_options":{"include_usage":"secret"}}""");
        Assert.True(InferenceRequestParser.TryParse(body, out var info));
        var edits = new BodyEdits();
        edits.Replace(info.ModelToken.Start, info.ModelToken.Length, B("\"[REDACTED]\""));
        edits.Replace(info.IncludeUsageValue.Start, info.IncludeUsageValue.Length, B("\"[REDACTED]\""));

        edits.Replace(info.ModelToken.Start, info.ModelToken.Length, B("\"alias-target\"")); // same token: the later wins
        edits.Replace(info.StreamOptionsValue.Start, info.StreamOptionsValue.Length, B("""{"include_usage":true}""")); // contains the redaction

        Assert.Equal("""{"model":"alias-target","stream_options":{"include_usage":true}}""", Encoding.UTF8.GetString(edits.Apply(body)));
    }

    [Fact]
    public void AddMember_SameNameTwice_ReplacesTheAdditionAndKeepsJsonValidOnEmptyObject()
    {
        var body = B("{ }");
        Assert.True(InferenceRequestParser.TryParse(body, out var info));
        var edits = new BodyEdits();

        edits.AddMember(info.RootStart, "max_tokens", B("500"));
        edits.AddMember(info.RootStart, "max_tokens", B("100"));

        var result = edits.Apply(body);
        Assert.Equal("""{"max_tokens":100 }""", Encoding.UTF8.GetString(result));
        using var _ = JsonDocument.Parse(result);
    }

    [Fact]
    public void Replace_PartialOverlap_Throws()
    {
        var edits = new BodyEdits();
        edits.Replace(2, 5, B("\"x\""));

        Assert.Throws<InvalidOperationException>(() => edits.Replace(4, 5, B("\"y\"")));
    }

    [Theory]
    [InlineData("""{"model":"gpt-4o","temperature":1.0,"messages":[{"role":"user","content":"h\u0069 \ud83d\ude00"}],"top_p":1e0,"x":[true,false,null,{"b":2,"a":1}]}""")]
    [InlineData("""{ "messages" : [ { "content":"hi", "role":"user" } ], "top_p": 1.5, "temperature": -0, "model": "gpt-4o", "big": 1e400 }""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x","detail":"low"}},{"type":"text","text":"t"}]}],"input":{"data":[1,2],"url":"u"}}""")]
    public void Canonical_FromTheParsersTape_SameAsAStandaloneCanonicalForm(string json)
    {
        var body = B(json);
        var tape = new List<JsonTapeToken>();

        Assert.True(InferenceRequestParser.TryParse(body, out _, out _, tape));

        Assert.Equal(Encoding.UTF8.GetString(CacheKey.Canonical(body)), Encoding.UTF8.GetString(CacheKey.Canonical(body, tape)));
    }
}
