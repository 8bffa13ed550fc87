using System.Text;
using InferenceSidecar.Caching;
using Microsoft.AspNetCore.Http;

namespace InferenceSidecar.Tests.Caching;

public sealed class CacheKeyTests
{
    private static string Key(string body, string user, CacheScope scope = CacheScope.User, IHeaderDictionary? headers = null) =>
        CacheKey.Compute("openai", "/v1/chat/completions", CacheKey.ScopeHash(scope, user), headers ?? new HeaderDictionary(), Encoding.UTF8.GetBytes(body));

    [Fact]
    public void Compute_ReorderedKeysWhitespaceAndNumberSpellings_SameKey()
    {
        var a = Key("""{"model":"gpt-4o","temperature":1.0,"messages":[{"role":"user","content":"hi"}],"top_p":1e0}""", "alice");
        var b = Key("""{ "messages" : [ { "content":"hi", "role":"user" } ], "top_p": 1, "temperature": 1, "model": "gpt-4o" }""", "alice");

        Assert.Equal(a, b);
    }

    [Fact]
    public void Compute_DifferentContentOrHeader_DifferentKey()
    {
        var body = """{"model":"claude","messages":[{"role":"user","content":"hi"}]}""";
        var beta = new HeaderDictionary { ["anthropic-beta"] = "prompt-caching-2024-07-31" };

        Assert.NotEqual(Key(body, "alice"), Key(body.Replace("hi", "ho", StringComparison.Ordinal), "alice"));
        Assert.NotEqual(Key(body, "alice"), Key(body, "alice", headers: beta));
    }

    [Fact]
    public void Compute_PropertyOverRandomRequests_DifferentScopeAlwaysDifferentKey()
    {
        // Property: for any request body, two different users never share a key; the same user always does;
        // a Shared route ignores the user.
        var random = new Random(1234);
        for (var i = 0; i < 500; i++)
        {
            var body = $$"""{"model":"m{{random.Next(5)}}","max_tokens":{{random.Next(1, 4000)}},"messages":[{"role":"user","content":"{{Guid.NewGuid()}}"}]}""";
            var userA = "u" + random.Next(1000);
            var userB = userA + "x";

            Assert.NotEqual(Key(body, userA), Key(body, userB));
            Assert.Equal(Key(body, userA), Key(body, userA));
            Assert.Equal(Key(body, userA, CacheScope.Shared), Key(body, userB, CacheScope.Shared));
            Assert.NotEqual(Key(body, userA), Key(body, userA, CacheScope.Shared));
        }
    }

    [Fact]
    public void Compute_KeyAndScope_NeverContainTheUserOrPromptInClear()
    {
        var key = Key("""{"model":"gpt-4o","messages":[{"role":"user","content":"my-secret-prompt"}]}""", "alice@example.com");
        var scope = CacheKey.ScopeHash(CacheScope.User, "alice@example.com");

        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.Matches("^[0-9a-f]{24}$", scope);
    }
}
