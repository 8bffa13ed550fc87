using System.Text;
using InferenceSidecar.Logging;
using Serilog.Events;
using Serilog.Formatting.Json;
using Serilog.Parsing;

namespace InferenceSidecar.Tests.Logging;

public sealed class BatchedStdoutSinkTests
{
    private static LogEvent Event(int i) => new(
        DateTimeOffset.UnixEpoch, LogEventLevel.Information, null, new MessageTemplateParser().Parse("line {N}"),
        [new LogEventProperty("N", new ScalarValue(i))]);

    private static string[] Lines(MemoryStream output) =>
        Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Emit_ThenDispose_EveryEventWrittenOnceAsOneJsonLineInOrder()
    {
        // Arrange
        var output = new MemoryStream();
        var sink = new BatchedStdoutSink(new JsonFormatter(renderMessage: true), output);

        // Act
        for (var i = 0; i < 500; i++)
        {
            sink.Emit(Event(i));
        }

        sink.Dispose();

        // Assert
        var lines = Lines(output);
        Assert.Equal(500, lines.Length);
        for (var i = 0; i < 500; i++)
        {
            Assert.Contains($"\"RenderedMessage\":\"line {i}\"", lines[i], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Emit_FromManyThreadsPastTheQueueCapacity_NothingLost()
    {
        // Arrange: 8 threads × 5,000 events, far more than the 8,192-event queue holds at once
        var output = new MemoryStream();
        var sink = new BatchedStdoutSink(new JsonFormatter(renderMessage: true), output);

        // Act
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 5000; i++)
            {
                sink.Emit(Event((t * 5000) + i));
            }
        })));
        sink.Dispose();

        // Assert: each of the 40,000 events exactly once, each line whole
        var seen = Lines(output)
            .Select(l => int.Parse(l[(l.IndexOf("\"RenderedMessage\":\"line ", StringComparison.Ordinal) + 24)..l.IndexOf('"', l.IndexOf("\"RenderedMessage\":\"line ", StringComparison.Ordinal) + 24)], System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        Assert.Equal(40_000, seen.Count);
        Assert.Equal(Enumerable.Range(0, 40_000), seen.Order());
    }

    [Fact]
    public void Emit_WithoutDispose_WrittenWithoutWaitingForMore()
    {
        // Arrange
        var output = new MemoryStream();
        using var sink = new BatchedStdoutSink(new JsonFormatter(renderMessage: true), output);

        // Act: one event, then wait (bounded) for the writer to flush it on its own
        sink.Emit(Event(7));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (output.Length == 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
        }

        // Assert
        Assert.Contains("\"RenderedMessage\":\"line 7\"", Encoding.UTF8.GetString(output.ToArray()), StringComparison.Ordinal);
    }
}
