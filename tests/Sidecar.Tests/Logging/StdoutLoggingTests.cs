using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using InferenceSidecar.Logging;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Serilog.Sinks.Async;

namespace InferenceSidecar.Tests.Logging;

/// <summary>The Production writer: Serilog.Sinks.Async's queue (blocking when full) in front of <see cref="StdoutSink"/>.</summary>
public sealed class StdoutLoggingTests
{
    private static string[] Lines(MemoryStream output) =>
        Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task Queued_SlowSinkFarPastTheQueueCapacity_NothingDropped()
    {
        // Arrange: a 16-event queue in front of a sink that takes ~50 µs per event, fed by 8 threads at full speed
        var received = new ConcurrentQueue<int>();
        var monitor = new Monitor();
        var logger = new LoggerConfiguration()
            .WriteTo.Queued(to => to.Sink(new SlowSink(received)), capacity: 16, monitor: monitor)
            .CreateLogger();

        // Act
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                logger.Information("line {N}", (t * 500) + i);
            }
        })));
        var droppedBeforeDispose = monitor.Inspector!.DroppedMessagesCount;
        logger.Dispose();

        // Assert: each of the 4,000 events exactly once
        Assert.Equal(0, droppedBeforeDispose);
        Assert.Equal(Enumerable.Range(0, 4000), received.Order());
    }

    [Fact]
    public void StdoutSink_BehindTheQueue_EveryEventOneCompactJsonLineInOrder()
    {
        // Arrange
        var output = new MemoryStream();
        var sink = new StdoutSink(new RenderedCompactJsonFormatter(), output);
        var logger = new LoggerConfiguration().WriteTo.Queued(to => to.Sink(sink), monitor: sink).CreateLogger();

        // Act
        for (var i = 0; i < 2000; i++)
        {
            logger.Information("line {N}", i);
        }

        logger.Dispose();

        // Assert
        var lines = Lines(output);
        Assert.Equal(2000, lines.Length);
        for (var i = 0; i < 2000; i++)
        {
            var json = JsonDocument.Parse(lines[i]).RootElement;
            Assert.Equal($"line {i}", json.GetProperty("@m").GetString());
            Assert.Equal(i, json.GetProperty("N").GetInt32());
        }
    }

    [Fact]
    public async Task StdoutSink_OneEventWithoutDispose_WrittenWithoutWaitingForMore()
    {
        // Arrange
        var output = new MemoryStream();
        var sink = new StdoutSink(new RenderedCompactJsonFormatter(), output);
        using var logger = new LoggerConfiguration().WriteTo.Queued(to => to.Sink(sink), monitor: sink).CreateLogger();

        // Act: one event, then wait (bounded) for the worker to write it on its own
        logger.Information("line {N}", 7);
        for (var i = 0; i < 250 && Volatile.Read(ref output) is { Length: 0 }; i++)
        {
            await Task.Delay(20);
        }

        // Assert
        Assert.Contains("\"@m\":\"line 7\"", Encoding.UTF8.GetString(output.ToArray()), StringComparison.Ordinal);
    }

    private sealed class SlowSink(ConcurrentQueue<int> received) : ILogEventSink
    {
        public void Emit(LogEvent logEvent)
        {
            Thread.SpinWait(2000);
            received.Enqueue((int)((ScalarValue)logEvent.Properties["N"]).Value!);
        }
    }

    private sealed class Monitor : IAsyncLogEventSinkMonitor
    {
        public IAsyncLogEventSinkInspector? Inspector { get; private set; }

        public void StartMonitoring(IAsyncLogEventSinkInspector inspector) => Inspector = inspector;

        public void StopMonitoring(IAsyncLogEventSinkInspector inspector)
        {
        }
    }
}
