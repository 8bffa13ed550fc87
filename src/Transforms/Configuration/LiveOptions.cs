using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace InferenceSidecar.Configuration;

/// <summary>
/// The current, validated value of an options type that changes without a restart. A reload that fails validation
/// is logged with the offending keys and ignored: the last good value keeps serving.
/// </summary>
internal sealed partial class LiveOptions<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T> : IDisposable
    where T : class
{
    /// <summary>Name of the unvalidated options instance this class watches.</summary>
    public const string Name = "live";

    private readonly IDisposable? _subscription;
    private readonly IValidateOptions<T>[] _validators;
    private readonly ILogger _logger;

    public LiveOptions(IOptions<T> validatedAtStart, IOptionsMonitor<T> monitor, IEnumerable<IValidateOptions<T>> validators, ILogger<LiveOptions<T>> logger)
    {
        Current = validatedAtStart.Value;
        _validators = validators.ToArray();
        _logger = logger;
        _subscription = monitor.OnChange(OnChange);
    }

    public T Current { get; private set; }

    /// <summary>True while the newest configuration is the one serving.</summary>
    public bool LastReloadSucceeded { get; private set; } = true;

    /// <summary>Raised after each reload: true when accepted, false when rejected (the audit trail listens).</summary>
    public event Action<bool>? Reloaded;

    public void Dispose() => _subscription?.Dispose();

    private void OnChange(T candidate, string? name)
    {
        if (name != Name)
        {
            return;
        }

        var failures = _validators
            .Select(v => v.Validate(Options.DefaultName, candidate))
            .Where(r => r.Failed)
            .SelectMany(r => r.Failures ?? [])
            .ToArray();
        if (failures.Length > 0)
        {
            LastReloadSucceeded = false;
            LogRejected(_logger, typeof(T).Name, string.Join(" ", failures));
            Reloaded?.Invoke(false);
            return;
        }

        LastReloadSucceeded = true;
        Current = candidate;
        LogApplied(_logger, typeof(T).Name);
        Reloaded?.Invoke(true);
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Error, Message = "Configuration reload rejected ({Options}); the last good configuration keeps serving: {Errors}")]
    private static partial void LogRejected(ILogger logger, string options, string errors);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Configuration reloaded ({Options}).")]
    private static partial void LogApplied(ILogger logger, string options);
}
