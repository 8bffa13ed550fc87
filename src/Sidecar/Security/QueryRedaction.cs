using Serilog.Core;
using Serilog.Events;

namespace InferenceSidecar.Security;

/// <summary>
/// Query strings reach logs without their values: <c>?api-version=2024-06-01&amp;key=sk-…</c> is written
/// <c>?api-version=&amp;key=</c>. Names stay (they say which endpoint shape was asked), values never (a client may put a
/// key in one). <see cref="Enricher"/> applies the same rule to every string property of every log event, so framework
/// lines that carry a URL (ASP.NET Core's <c>Request starting … {QueryString}</c>, YARP's <c>Proxying to {targetUrl}</c>)
/// are covered at every level.
/// </summary>
internal static class QueryRedaction
{
    /// <summary>A Serilog enricher that redacts query values in every string property (and so in the rendered message).</summary>
    public static ILogEventEnricher Enricher { get; } = new QueryValueEnricher();

    /// <summary>The request's path base, path and query, query values removed: what the request log writes.</summary>
    public static string PathAndQuery(HttpRequest request)
    {
        var path = request.PathBase.Add(request.Path).ToString();
        return request.QueryString.HasValue ? path + Redact(request.QueryString.Value!) : path;
    }

    /// <summary>
    /// <paramref name="text"/> with the value of every <c>name=value</c> pair after a <c>?</c> removed (up to whitespace or
    /// <c>#</c>); the same instance when there is nothing to remove.
    /// </summary>
    public static string Redact(string text)
    {
        var question = text.IndexOf('?');
        if (question < 0 || text.IndexOf('=', question) < 0)
        {
            return text;
        }

        var output = new System.Text.StringBuilder(text.Length);
        var i = 0;
        while (question >= 0)
        {
            output.Append(text, i, question + 1 - i);
            i = question + 1;
            var inValue = false;
            for (; i < text.Length; i++)
            {
                var c = text[i];
                if (char.IsWhiteSpace(c) || c == '#' || c == '"')
                {
                    break;
                }

                if (c == '&')
                {
                    inValue = false;
                    output.Append(c);
                }
                else if (c == '=' && !inValue)
                {
                    inValue = true;
                    output.Append(c);
                }
                else if (!inValue)
                {
                    output.Append(c);
                }
            }

            question = i < text.Length ? text.IndexOf('?', i) : -1;
        }

        output.Append(text, i, text.Length - i);
        return output.ToString();
    }

    private sealed class QueryValueEnricher : ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
        {
            List<LogEventProperty>? changed = null;
            foreach (var (name, value) in logEvent.Properties)
            {
                if (value is ScalarValue { Value: string text } && text.Contains('?') && Redact(text) is var redacted && !string.Equals(redacted, text, StringComparison.Ordinal))
                {
                    (changed ??= []).Add(new LogEventProperty(name, new ScalarValue(redacted)));
                }
            }

            if (changed is not null)
            {
                foreach (var property in changed)
                {
                    logEvent.AddOrUpdateProperty(property);
                }
            }
        }
    }
}
