using System.Text;
using InferenceSidecar.Proxy;

namespace InferenceSidecar.Tests.Proxy;

public sealed class InferenceRequestParserTests
{
    [Theory]
    [InlineData("""{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"{\"model\":\"nested\"}"}]}""", "gpt-4o", true)]
    [InlineData("""{"messages":[],"metadata":{"model":"inner","stream":true},"model":"claude"}""", "claude", false)]
    [InlineData("""{"stream":false}""", null, false)]
    public void TryParse_ValidJson_ReadsTopLevelFieldsOnly(string json, string? model, bool stream)
    {
        var ok = InferenceRequestParser.TryParse(Encoding.UTF8.GetBytes(json), out var info);

        Assert.True(ok);
        Assert.Equal(model, info.Model);
        Assert.Equal(stream, info.Stream);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{\"model\":")]
    [InlineData("{} {}")]
    [InlineData("{\"a\":1,}")]
    public void TryParse_InvalidOrNonObject_ReturnsFalse(string json)
    {
        Assert.False(InferenceRequestParser.TryParse(Encoding.UTF8.GetBytes(json), out _));
    }

    [Theory]
    [InlineData("""{"max_completion_tokens":null,"max_tokens":7}""", "max_tokens", 7)]
    [InlineData("""{"max_tokens":7,"max_completion_tokens":null}""", "max_tokens", 7)]
    [InlineData("""{"max_tokens":null,"max_completion_tokens":null}""", "max_tokens", null)]
    [InlineData("""{"max_output_tokens":null,"max_tokens":9}""", "max_tokens", 9)]
    public void TryParse_NullCapBesideAnother_AcceptedTheValueCounts(string json, string field, int? cap)
    {
        var ok = InferenceRequestParser.TryParse(Encoding.UTF8.GetBytes(json), out var info, out var problem, null);

        Assert.True(ok, problem);
        Assert.Equal(field, info.MaxOutputField);
        Assert.Equal(cap, info.MaxOutputTokens);
        Assert.True(info.MaxOutputToken.Start >= 0);
    }

    [Theory]
    [InlineData("""{"max_tokens":5,"max_completion_tokens":7}""", "two output caps")]
    [InlineData("""{"max_tokens":null,"max_tokens":7}""", "repeats a field")]
    [InlineData("""{"stream":true,"stream_options":{"include_usage":false,"include_usage":false}}""", "repeats include_usage")]
    [InlineData("""{"stream":true,"stream_options":{"include_usage":true,"include_usage":false}}""", "repeats include_usage")]
    public void TryParse_AmbiguousCapOrUsage_RefusedWithItsReason(string json, string reason)
    {
        var ok = InferenceRequestParser.TryParse(Encoding.UTF8.GetBytes(json), out _, out var problem, null);

        Assert.False(ok);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }
}
