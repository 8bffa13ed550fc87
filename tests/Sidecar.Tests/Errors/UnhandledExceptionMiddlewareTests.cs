using InferenceSidecar.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace InferenceSidecar.Tests.Errors;

public sealed class UnhandledExceptionMiddlewareTests
{
    private const string Secret = "sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    [Fact]
    public async Task InvokeAsync_StepThrows_500WithoutMessageAndLogNamesFramesNotMessage()
    {
        var logger = new CapturingLogger();
        var middleware = new UnhandledExceptionMiddleware(_ => ThrowingStep(), logger);
        var context = new DefaultHttpContext();
        context.Request.Path = "/openai/v1/chat/completions";
        context.Response.Body = new MemoryStream();

        await middleware.InvokeAsync(context);

        Assert.Equal(StatusCodes.Status500InternalServerError, context.Response.StatusCode);
        context.Response.Body.Position = 0;
        var body = await new StreamReader(context.Response.Body).ReadToEndAsync();
        Assert.Contains("internal_error", body);
        Assert.DoesNotContain(Secret, body);
        Assert.DoesNotContain(nameof(ThrowingStep), body);

        var line = Assert.Single(logger.Lines);
        Assert.Contains("System.InvalidOperationException", line);
        Assert.Contains(nameof(ThrowingStep), line); // the frame it was thrown from
        Assert.Contains("inner System.FormatException", line);
        Assert.DoesNotContain(Secret, line);
    }

    private static Task ThrowingStep() =>
        throw new InvalidOperationException("bad header " + Secret, new FormatException("inner " + Secret));

    private sealed class CapturingLogger : ILogger<UnhandledExceptionMiddleware>
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Assert.Null(exception); // the exception object (with its message) is never handed to the logging pipeline
            Lines.Add(formatter(state, exception));
        }
    }
}
