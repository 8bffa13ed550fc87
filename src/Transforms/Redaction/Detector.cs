using System.Text.RegularExpressions;

namespace InferenceSidecar.Redaction;

/// <summary>
/// One kind of secret or personal data: a pattern (redacting capture group 1 when the pattern has one, else the whole
/// match) and an optional check that removes look-alikes (Luhn for card numbers, a decodable header for JWTs, …). A
/// built-in detector also names its <see cref="Redaction.Anchor"/>, so its regex runs only near a hit of the pre-scan.
/// </summary>
internal sealed record Detector(string Name, Regex Pattern, Func<string, bool>? IsReal = null, Anchor? Anchor = null);
