namespace PortPublisher.Cli;

/// <summary>The CLI's exit codes (documented in the README).</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Ok = 0;

    /// <summary>The service refused or failed the request (unknown publication, port already allocated, …), or <c>port</c> found no such public port, as <c>docker port</c> exits.</summary>
    public const int Failed = 1;

    /// <summary>Bad usage or bad input found before contacting the service (a bad spec, a bad name, a missing argument); nothing was changed.</summary>
    public const int Usage = 2;

    /// <summary>The service could not be reached: not running, not answering, or not ready within <c>status --wait</c> (sysexits EX_UNAVAILABLE).</summary>
    public const int Unavailable = 69;

    /// <summary>Not allowed: the socket is not this user's to open, or <c>cleanup</c> lacks root (sysexits EX_NOPERM).</summary>
    public const int NoPermission = 77;
}
