namespace InfluxProxy.Host.Config;

/// <summary>What the command line asks for, parsed in the original's Go <c>flag</c> style.</summary>
public abstract record CommandLine
{
    public const string DefaultConfigPath = "proxy.json";

    public sealed record Run(string ConfigPath) : CommandLine;
    public sealed record ShowVersion : CommandLine;
    /// <summary>Print what changing the configuration from <paramref name="FromPath"/> to <paramref name="ConfigPath"/> would move.</summary>
    public sealed record Plan(string ConfigPath, string FromPath) : CommandLine;
    public sealed record ShowUsage : CommandLine;
    /// <summary>A flag error; the process prints it with the usage and exits 2, as Go's flag package does.</summary>
    public sealed record Invalid(string Message) : CommandLine;

    public static string Usage(string program) =>
        $"Usage of {program}:\n" +
        "  -config string\n" +
        $"    \tproxy config file with json/yaml/toml format (default \"{DefaultConfigPath}\")\n" +
        "  -from string\n" +
        "    \twith -plan: the config the backends' data is placed by now\n" +
        "  -plan\n" +
        "    \tprint what changing the config from -from to -config would move, and exit\n" +
        "  -version\n" +
        "    \tproxy version\n";

    /// <summary>Accepts <c>-flag value</c>, <c>-flag=value</c> and the same with <c>--</c>.</summary>
    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var configPath = DefaultConfigPath;
        string? fromPath = null;
        var version = false;
        var plan = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--" || !arg.StartsWith('-') || arg == "-")
                break;
            var body = arg.TrimStart('-');
            var eq = body.IndexOf('=');
            var (name, inline) = eq < 0 ? (body, null) : (body[..eq], body[(eq + 1)..]);
            switch (name)
            {
                case "h" or "help":
                    return new ShowUsage();
                case "config":
                    if (inline is null && i + 1 >= args.Count)
                        return new Invalid("flag needs an argument: -config");
                    configPath = inline ?? args[++i];
                    break;
                case "from":
                    if (inline is null && i + 1 >= args.Count)
                        return new Invalid("flag needs an argument: -from");
                    fromPath = inline ?? args[++i];
                    break;
                case "plan":
                    if (inline is not null && !bool.TryParse(inline, out plan))
                        return new Invalid($"invalid boolean value \"{inline}\" for -plan");
                    plan = inline is null || plan;
                    break;
                case "version":
                    if (inline is not null && !bool.TryParse(inline, out version))
                        return new Invalid($"invalid boolean value \"{inline}\" for -version");
                    version = inline is null || version;
                    break;
                default:
                    return new Invalid($"flag provided but not defined: -{name}");
            }
        }
        if (version)
            return new ShowVersion();
        if (plan)
            return fromPath is null ? new Invalid("-plan needs -from: the config the data is placed by now") : new Plan(configPath, fromPath);
        return new Run(configPath);
    }
}
