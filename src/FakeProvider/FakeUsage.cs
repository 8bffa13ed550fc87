using System.Text.Json;

namespace InferenceSidecar.FakeProvider;

/// <summary>
/// The fake provider's deterministic "tokenizer": input tokens are the characters of every string under
/// <c>messages</c>, <c>system</c>, <c>input</c>, <c>instructions</c> and <c>prompt</c> divided by four (rounded up, at least one); output tokens are reply words.
/// Tests compare the sidecar's accounting against these exact figures.
/// </summary>
public static class FakeUsage
{
    public static int InputTokens(JsonElement request)
    {
        var chars = 0;
        if (request.ValueKind == JsonValueKind.Object)
        {
            if (request.TryGetProperty("messages", out var messages))
            {
                chars += CountChars(messages);
            }

            if (request.TryGetProperty("system", out var system))
            {
                chars += CountChars(system);
            }

            // Responses, embeddings, legacy completions: input / instructions / prompt (strings or content parts).
            foreach (var name in (string[])["input", "instructions", "prompt"])
            {
                if (request.TryGetProperty(name, out var value))
                {
                    chars += CountChars(value);
                }
            }
        }

        return Math.Max(1, (chars + 3) / 4);
    }

    public static string[] ReplyWords(string reply, int? maxTokens)
    {
        var words = reply.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < words.Length - 1; i++)
        {
            words[i] += " ";
        }

        return maxTokens is { } max && max > 0 && max < words.Length ? words[..max] : words;
    }

    private static int CountChars(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return element.GetString()!.Length;
            case JsonValueKind.Array:
                var sum = 0;
                foreach (var item in element.EnumerateArray())
                {
                    sum += CountChars(item);
                }

                return sum;
            case JsonValueKind.Object:
                var total = 0;
                foreach (var property in element.EnumerateObject())
                {
                    if (property.NameEquals("content") || property.NameEquals("text"))
                    {
                        total += CountChars(property.Value);
                    }
                }

                return total;
            default:
                return 0;
        }
    }
}
