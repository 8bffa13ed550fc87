using System.Diagnostics;
using System.Text;
using System.Text.Json;
using InferenceSidecar.Redaction;

// Redaction throughput: MB/s of UTF-16 text through MayContain (+ Redact when it says yes) for the built-in detectors,
// the anchored fast path against the same detectors without anchors (every regex over the whole text, as before).
// Per call in CPU µs of this process (the machine is shared). Usage: dotnet run -c Release --project bench/Micro [seconds-per-case]
if (args.Length > 0 && args[0] == "log")
{
    InferenceSidecar.Bench.Micro.LogBench.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3);
    return;
}

var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 2;
var prose = "The quick brown fox reviews config files, stack traces and the 2024 roadmap; it asks why build 17 failed at step 3. ";
var clean = Repeat(prose, 64 * 1024);
var letters = Repeat("The quick brown fox reviews config files, stack traces and the roadmap; it asks why the build failed at the last step. ", 64 * 1024);
var withSecrets = Repeat(prose, 16 * 1024) + " key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7cDE0fGH3i " + Repeat(prose, 16 * 1024)
    + " card 4111 1111 1111 1111 and mail jane@example.com " + Repeat(prose, 16 * 1024) + " postgres://admin:hunter2pass@db:5432/app " + Repeat(prose, 16 * 1024);
var codey = Repeat("for (var i = 0; i < 1024; i++) { total += values[i] * 31; } // see https://example.com/docs#loop user@host ", 64 * 1024);

foreach (var (name, detectors) in new[] { ("secrets", DetectorCatalog.Secrets.ToArray()), ("secrets+pii", DetectorCatalog.Secrets.Concat(DetectorCatalog.PersonalData).ToArray()) })
{
    var fast = new Redactor(detectors);
    var slow = new Redactor(detectors.Select(d => d with { Anchor = null }).ToArray());
    foreach (var (textName, text) in new[] { ("clean prose, no digits", letters), ("clean prose 64 KB", clean), ("code+urls 64 KB", codey), ("4 secrets in 64 KB", withSecrets) })
    {
        Console.WriteLine($"{name,-12} {textName,-20} fast {Measure(fast, text),8:F0} MB/s   all-regex {Measure(slow, text),8:F0} MB/s");
    }
}

if (Environment.GetEnvironmentVariable("PER_DETECTOR") is not null) { PerDetector.Run(clean, PerCall); PerDetector.Run(codey, PerCall); }

// The JSON path the middleware takes: a 64 KB clean chat prompt.
var json = JsonSerializer.SerializeToUtf8Bytes(new { model = "gpt-4o", messages = new[] { new { role = "user", content = clean } } });
var jsonFast = new Redactor(DetectorCatalog.Secrets);
var jsonSlow = new Redactor(DetectorCatalog.Secrets.Select(d => d with { Anchor = null }).ToArray());
Console.WriteLine($"json 64 KB clean prompt: fast {PerCall(() => JsonRedactor.Redact(json, jsonFast, [])),8:F1} µs/request   all-regex {PerCall(() => JsonRedactor.Redact(json, jsonSlow, [])),8:F1} µs/request");

double Measure(Redactor redactor, string text)
{
    var perCall = PerCall(() =>
    {
        if (redactor.MayContain(text))
        {
            redactor.Redact(text, []);
        }
    });
    return text.Length / perCall; // chars per µs = MB/s of (ASCII) text
}

double PerCall(Action action)
{
    for (var i = 0; i < 50; i++)
    {
        action();
    }

    // CPU time of this process, not wall time: the machine is shared, and a descheduled thread is not slower code.
    var calls = 0;
    var process = Process.GetCurrentProcess();
    var cpu = process.TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        action();
        calls++;
    }

    process.Refresh();
    return (process.TotalProcessorTime - cpu).TotalMicroseconds / calls;
}

static string Repeat(string s, int length)
{
    var b = new StringBuilder(length + s.Length);
    while (b.Length < length)
    {
        b.Append(s);
    }

    return b.ToString(0, length);
}
public static class PerDetector
{
    public static void Run(string text, Func<Action, double> perCall)
    {
        foreach (var d in DetectorCatalog.Secrets.Concat(DetectorCatalog.PersonalData))
        {
            var r = new Redactor([d]);
            var slow = new Redactor([d with { Anchor = null }]);
            Console.WriteLine($"  {d.Name,-28} {perCall(() => r.MayContain(text)),8:F1} µs  all-regex {perCall(() => slow.MayContain(text)),8:F1} µs  may={r.MayContain(text)}");
        }
    }
}
