using InferenceSidecar.Configuration;

namespace InferenceSidecar.PromptGuard;

/// <summary>
/// The opt-in starter deny list (<c>IncludeStarterList: true</c>): well-known prompt-injection and jailbreak phrasings.
/// A starting point, not a complete defence: rephrasings, other languages and look-alike letters get through.
/// Patterns run on normalised text (full-width forms folded, invisible characters removed, whitespace collapsed), case-insensitively.
/// </summary>
internal static class StarterRules
{
    public static IReadOnlyList<PromptGuardRuleOptions> All { get; } =
    [
        Rule("starter:ignore-instructions", @"\b(ignore|disregard|forget|skip|override|bypass)\b[^.!?]{0,40}\b(previous|prior|preceding|above|earlier|former|all|any|your|the|system)\b[^.!?]{0,20}\b(instructions?|prompts?|rules|directions|directives|guidelines|constraints)\b"),
        Rule("starter:reveal-system-prompt", @"\b(reveal|show|print|repeat|output|display|leak|tell me|what (is|are|was|were))\b[^.!?]{0,40}\b(system|initial|hidden|original|secret|developer)\s+(prompt|instructions?|message)s?\b"),
        Rule("starter:jailbreak-mode", @"\b(developer|dev|god|jailbreak|jailbroken|dan|unrestricted|unfiltered)\s+mode\b|\bdo\s+anything\s+now\b"),
        Rule("starter:no-restrictions", @"\b(pretend|imagine|act as if|you are now|from now on you are|you're now)\b[^.!?]{0,40}\b(no|without|free of|free from|zero)\s+(rules|restrictions|limits|limitations|filters|guidelines|policies|censorship)\b"),
        Rule("starter:new-instructions", @"\b(new|updated|real|actual|true)\s+(system\s+)?(instructions?|prompt)\s*:"),
        Rule("starter:chat-template-tokens", @"<\|(im_start|im_end|system|endoftext|begin_of_text|start_header_id|eot_id)\|>|\[/?INST\]|<</?SYS>>"),
    ];

    private static PromptGuardRuleOptions Rule(string name, string pattern) => new() { Name = name, Pattern = pattern };
}
