using System.Security.Cryptography;
using System.Text;

namespace InferenceSidecar.Audit;

/// <summary>
/// The audit trail: one structured line per admin action in category <see cref="Category"/> (event id 300), with who
/// (<c>Actor</c>: <c>admin:</c> and the first 12 hex digits of the SHA-256 of the bearer token used, never the token;
/// <c>config</c> for a configuration reload), what (<c>Action</c>), the <c>Target</c> and the <c>Outcome</c>. Targets
/// are route, cluster and user ids, or counts; never a secret or a request body.
/// </summary>
internal sealed partial class AdminAudit(ILoggerFactory loggers)
{
    public const string Category = "InferenceSidecar.Audit";

    private readonly ILogger _logger = loggers.CreateLogger(Category);

    /// <summary>Who called: a short hash of the bearer token presented (the admin filter has already checked it).</summary>
    public static string Actor(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        const string Prefix = "Bearer ";
        var token = authorization.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? authorization[Prefix.Length..].Trim() : string.Empty;
        if (token.Length == 0)
        {
            return "anonymous";
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
        return "admin:" + Convert.ToHexStringLower(hash[..6]);
    }

    public void Write(HttpContext context, string action, string target, string outcome) => Write(Actor(context), action, target, outcome);

    public void Write(string actor, string action, string target, string outcome) => LogAudit(_logger, actor, action, target, outcome);

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "audit {Actor} {Action} {Target} {Outcome}")]
    private static partial void LogAudit(ILogger logger, string actor, string action, string target, string outcome);
}
