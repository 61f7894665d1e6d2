namespace PortPublisher.TestKit;

/// <summary>
/// The <c>portpublisher</c> CLI that end-to-end tests start as a process. scripts/test.sh publishes the native
/// (NativeAOT) binary once, as the package ships it, and names it in <c>PORTPUBLISHER_TEST_CLI</c>, so CI runs every
/// such test against it; without the variable they run the JIT build of the configuration under test
/// (<c>dotnet portpublisher.dll</c>), which is what a developer's <c>dotnet test</c> just built.
/// </summary>
public static class CliUnderTest
{
    public const string Variable = "PORTPUBLISHER_TEST_CLI";

    private static readonly Lazy<string?> s_native = new(Resolve);

    /// <summary>The native binary the variable names, or null when it is unset (the JIT build runs).</summary>
    public static string? Native => s_native.Value;

    /// <summary>The command line that starts the CLI: <c>[native]</c>, or <c>["dotnet", jitDll]</c>.</summary>
    public static string[] Command(string jitDll) => Native is { } native ? [native] : ["dotnet", jitDll];

    // A variable that names nothing runnable fails the tests that use it rather than quietly testing the JIT build.
    private static string? Resolve()
    {
        string? value = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        string path = Path.GetFullPath(value);
        if (!File.Exists(path) || (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) == 0)
        {
            throw new InvalidOperationException($"{Variable}={value}: not an executable file (publish it with `dotnet publish src/PortPublisher.Cli -c Release`, or unset {Variable} to test the JIT build)");
        }

        return path;
    }
}
