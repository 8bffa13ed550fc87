using System.ComponentModel.DataAnnotations;

namespace InferenceSidecar.Configuration;

/// <summary><c>Sidecar:Identity</c>: who a request is from when no client keys are configured.</summary>
internal sealed class IdentityOptions
{
    /// <summary>Header carrying the user id, trusted because only the pod's own app reaches localhost.</summary>
    [Required(AllowEmptyStrings = false, ErrorMessage = "Sidecar:Identity:UserHeader must name a header.")]
    [RegularExpression("^[A-Za-z0-9-]{1,64}$", ErrorMessage = "Sidecar:Identity:UserHeader must be a header name (letters, digits, '-').")]
    public string UserHeader { get; set; } = "X-User-Id";

    /// <summary>When true, a request with no identity is user <see cref="AnonymousUser"/> instead of 401.</summary>
    public bool AllowAnonymous { get; set; }

    [RegularExpression("^[A-Za-z0-9._@:-]{1,128}$", ErrorMessage = "Sidecar:Identity:AnonymousUser must be 1-128 of A-Z a-z 0-9 . _ @ : -.")]
    public string AnonymousUser { get; set; } = "anonymous";

    /// <summary>What anonymous callers are limited as: <c>Shared</c> (one user, default), <c>ClientIp</c> or <c>Session</c>.</summary>
    public Identity.AnonymousPartitionMode AnonymousPartition { get; set; } = Identity.AnonymousPartitionMode.Shared;

    /// <summary>With <c>AnonymousPartition: Session</c>: the header carrying the session id.</summary>
    [RegularExpression("^[A-Za-z0-9-]{1,64}$", ErrorMessage = "Sidecar:Identity:SessionHeader must be a header name (letters, digits, '-').")]
    public string SessionHeader { get; set; } = "X-Session-Id";
}
