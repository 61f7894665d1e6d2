using System.Collections;

namespace PortPublisher.Cni.Spec;

/// <summary>
/// The CNI_* variables of one invocation, checked as libcni's skel checks them: which are required per verb, the
/// container ID's and interface name's characters, and (by <see cref="CniPlugin"/>) that CNI_NETNS is not our own.
/// </summary>
internal sealed record CniEnvironment(CniCommand Command, string ContainerId, string Netns, string IfName, string Args, string Path, bool NetnsOverride)
{
    /// <exception cref="CniException">Code 4 naming every missing or bad variable.</exception>
    public static CniEnvironment Parse(IDictionary variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        string Get(string name) => variables[name] as string ?? string.Empty;

        string command = Get("CNI_COMMAND");
        CniCommand? verb = command switch
        {
            "ADD" => CniCommand.Add,
            "DEL" => CniCommand.Del,
            "CHECK" => CniCommand.Check,
            "VERSION" => CniCommand.Version,
            "STATUS" => CniCommand.Status,
            "GC" => CniCommand.Gc,
            _ => null,
        };
        if (command.Length == 0)
        {
            throw new CniException(CniErrorCode.ErrInvalidEnvironmentVariables, "required env variables [CNI_COMMAND] missing");
        }

        if (verb is null)
        {
            throw new CniException(CniErrorCode.ErrInvalidEnvironmentVariables, $"unknown CNI_COMMAND: {command}", "ADD, DEL, CHECK, VERSION, STATUS or GC");
        }

        var env = new CniEnvironment(verb.Value, Get("CNI_CONTAINERID"), Get("CNI_NETNS"), Get("CNI_IFNAME"), Get("CNI_ARGS"), Get("CNI_PATH"), Get("CNI_NETNS_OVERRIDE") == "1");
        if (verb == CniCommand.Version)
        {
            return env;
        }

        var missing = new List<string>();
        bool perAttachment = verb is CniCommand.Add or CniCommand.Del or CniCommand.Check;
        if (perAttachment && env.ContainerId.Length == 0)
        {
            missing.Add("CNI_CONTAINERID");
        }

        if (verb is CniCommand.Add or CniCommand.Check && env.Netns.Length == 0)
        {
            missing.Add("CNI_NETNS");
        }

        if (perAttachment && env.IfName.Length == 0)
        {
            missing.Add("CNI_IFNAME");
        }

        if (env.Path.Length == 0)
        {
            missing.Add("CNI_PATH");
        }

        if (missing.Count > 0)
        {
            throw new CniException(CniErrorCode.ErrInvalidEnvironmentVariables, $"required env variables [{string.Join(' ', missing)}] missing");
        }

        if (perAttachment)
        {
            if (!Attachment.IsValidContainerId(env.ContainerId))
            {
                throw new CniException(CniErrorCode.ErrInvalidEnvironmentVariables, "invalid characters in containerID", env.ContainerId);
            }

            if (Attachment.InterfaceNameError(env.IfName) is string bad)
            {
                throw new CniException(CniErrorCode.ErrInvalidEnvironmentVariables, bad, env.IfName);
            }
        }

        return env;
    }

    public Attachment Attachment => new(ContainerId, IfName);
}
