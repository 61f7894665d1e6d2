namespace PortPublisher.Service.Tests;

/// <summary>One series selector in a PromQL expression: the metric it names and the labels its matchers test.</summary>
public sealed record PromQlSelector(string Metric, IReadOnlyList<string> MatcherLabels);
