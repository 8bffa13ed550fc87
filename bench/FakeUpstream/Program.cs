using System.Runtime.InteropServices;
using InferenceSidecar.FakeProvider;

// The fake provider as a standalone upstream for the benchmark's streaming mode: realistic SSE with a delay between
// events. Usage: FakeUpstream <port> <chunk-delay-ms> <words>. Stops on SIGTERM or SIGINT.
var port = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
var delay = TimeSpan.FromMilliseconds(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
var words = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var stop = new TaskCompletionSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.TrySetResult(); });
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.TrySetResult(); });
await using var server = await FakeProviderServer.StartAsync(port);
server.Behavior = new FakeBehavior
{
    ChunkDelay = delay,
    ReplyText = string.Join(' ', Enumerable.Range(0, words).Select(i => "word" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
};
Console.WriteLine($"fake upstream on {server.BaseAddress}, {words} words, {delay.TotalMilliseconds} ms apart");
await stop.Task;
