using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace InferenceSidecar.Configuration;

/// <summary>
/// A <see cref="TimeSpan"/> between two bounds given as <c>c</c>-format strings. Replaces
/// <c>[Range(typeof(TimeSpan), …)]</c>, whose constructor finds a <c>TypeConverter</c> by reflection and is not
/// trim-safe (IL2026), so the NativeAOT build stays warning-free.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class TimeSpanRangeAttribute(string minimum, string maximum) : ValidationAttribute
{
    public TimeSpan Minimum { get; } = TimeSpan.Parse(minimum, CultureInfo.InvariantCulture);

    public TimeSpan Maximum { get; } = TimeSpan.Parse(maximum, CultureInfo.InvariantCulture);

    public override bool IsValid(object? value) => value is not TimeSpan span || (span >= Minimum && span <= Maximum);
}
