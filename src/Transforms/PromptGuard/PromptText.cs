using System.Globalization;
using System.Text;
using System.Text.Json;
using InferenceSidecar.Proxy;

namespace InferenceSidecar.PromptGuard;

/// <summary>
/// The text a prompt guard checks, read from a JSON request body in any supported dialect: OpenAI chat
/// (<c>messages[].content</c> as a string or text parts), the Responses API (<c>input</c> as a string or items,
/// <c>instructions</c>), Anthropic messages (<c>messages</c>, <c>system</c> as a string or text blocks, text inside
/// <c>tool_result</c> blocks), and legacy <c>prompt</c>. By default only user, system and developer messages count;
/// every duplicate of a key is read (providers disagree on which one wins).
/// </summary>
/// <remarks>
/// Text is normalised against walk-arounds before matching: full-width letters folded to ASCII (the sidecar runs with
/// invariant globalization, so full NFKC is not available), invisible format characters removed (zero-width spaces and joiners, soft hyphens, bidi
/// controls), every run of whitespace or control characters turned into one space. All pieces are also joined with a
/// space into <see cref="Combined"/>, so a phrase split across messages or content parts still matches.
/// </remarks>
internal sealed class PromptText
{
    private readonly StringBuilder _combined = new();

    private PromptText(bool allRoles) => AllRoles = allRoles;

    public bool AllRoles { get; }

    /// <summary>Every checked piece, joined with single spaces.</summary>
    public string Combined => _combined.ToString();

    /// <summary>The normalised text of each user message (allow lists apply to these).</summary>
    public List<string> UserMessages { get; } = [];

    public static PromptText Extract(ReadOnlySpan<byte> body, bool allRoles)
    {
        var text = new PromptText(allRoles);
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = InferenceRequestParser.MaxDepth });
        using var document = JsonDocument.ParseValue(ref reader);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            switch (property.Name)
            {
                case "messages":
                case "input":
                    text.Conversation(property.Value);
                    break;
                case "system":
                case "instructions":
                    text.Message(property.Value, isUser: false);
                    break;
                case "prompt":
                    text.Message(property.Value, isUser: true);
                    break;
            }
        }

        return text;
    }

    /// <summary>Lowers the text to the form rules match: full-width forms folded, invisible characters gone, whitespace runs as one space.</summary>
    public static string Normalize(string value)
    {
        var builder = new StringBuilder(value.Length);
        var space = false;
        foreach (var raw in value)
        {
            // The sidecar runs with invariant globalization (no ICU, so no NFKC): fold the full-width ASCII forms
            // (U+FF01-U+FF5E) to ASCII here, the compatibility forms most used to dodge filters.
            var c = raw is >= '\uFF01' and <= '\uFF5E' ? (char)(raw - 0xFEE0) : raw;
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (category == UnicodeCategory.Format)
            {
                continue; // U+200B-U+200F, U+2060, U+FEFF, U+00AD, bidi controls: invisible, so removed
            }

            if (char.IsWhiteSpace(c) || char.IsControl(c) || category is UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                space = builder.Length > 0;
                continue;
            }

            if (space)
            {
                builder.Append(' ');
                space = false;
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    private void Conversation(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                Add(value.GetString()!, isUser: true); // Responses API: input as a plain string
                break;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String)
                    {
                        Add(item.GetString()!, isUser: true); // embeddings-style input lists
                    }
                    else if (item.ValueKind == JsonValueKind.Object)
                    {
                        Item(item);
                    }
                }

                break;
        }
    }

    private void Item(JsonElement item)
    {
        // Every duplicate of "role" counts (upstream parsers disagree on which wins), and only roles known to carry the
        // model's own output are skipped: "User", "user\0" or a role listed twice with "assistant" are still checked.
        string? role = null;
        var modelOutput = true;
        var any = false;
        foreach (var property in item.EnumerateObject())
        {
            if (property.Name == "role")
            {
                any = true;
                var value = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                if (value is not ("assistant" or "tool" or "function"))
                {
                    modelOutput = false;
                    role ??= value;
                }
            }
        }

        if (!any)
        {
            modelOutput = false;
        }

        var isUser = role is not ("system" or "developer");
        if (!AllRoles && modelOutput)
        {
            return;
        }

        if (!AllRoles && role is null && !IsMessageItem(item))
        {
            return; // a Responses item that is not a message (function_call_output, reasoning, …)
        }

        foreach (var property in item.EnumerateObject())
        {
            if (property.Name is "content" or "text")
            {
                Message(property.Value, isUser && role is not ("system" or "developer"));
            }
        }
    }

    private static bool IsMessageItem(JsonElement item) =>
        !item.TryGetProperty("type", out var type) || (type.ValueKind == JsonValueKind.String && type.GetString() is "message" or "input_text" or "text");

    /// <summary>One message's content: a string, or parts whose <c>text</c> (and nested <c>content</c>) are read; one piece per message.</summary>
    private void Message(JsonElement value, bool isUser)
    {
        var builder = new StringBuilder();
        Collect(value, builder, 0);
        if (builder.Length > 0)
        {
            Add(builder.ToString(), isUser);
        }
    }

    private static void Collect(JsonElement value, StringBuilder builder, int depth)
    {
        if (depth > 8)
        {
            return;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                builder.Append(value.GetString()).Append(' ');
                break;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    Collect(item, builder, depth + 1);
                }

                break;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    if (property.Name is "text" or "content" or "input_text")
                    {
                        Collect(property.Value, builder, depth + 1);
                    }
                }

                break;
        }
    }

    private void Add(string raw, bool isUser)
    {
        var normalized = Normalize(raw);
        if (normalized.Length == 0)
        {
            return;
        }

        if (_combined.Length > 0)
        {
            _combined.Append(' ');
        }

        _combined.Append(normalized);
        if (isUser)
        {
            UserMessages.Add(normalized);
        }
    }
}
