namespace PortPublisher.Service.Tests;

/// <summary>
/// A <c>by (…)</c> or <c>without (…)</c> clause (also <c>on</c>, <c>ignoring</c>, <c>group_left/right</c>) and the
/// metrics of the expression it groups: each label should exist on each of them, or the grouping means nothing.
/// </summary>
public sealed record PromQlGrouping(string Clause, IReadOnlyList<string> Labels, IReadOnlyList<string> Metrics);
