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
}
