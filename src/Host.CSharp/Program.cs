using InfluxProxy.Host.Config;
using InfluxProxy.Host.Http;

const string program = "influx-proxy";

switch (CommandLine.Parse(args))
{
    case CommandLine.ShowUsage:
        Console.Error.Write(CommandLine.Usage(program));
        return 0;
    case CommandLine.Invalid invalid:
        Console.Error.WriteLine(invalid.Message);
        Console.Error.Write(CommandLine.Usage(program));
        return 2;
    case CommandLine.ShowVersion:
        Console.Write(BuildInfo.Describe());
        return 0;
    case CommandLine.Plan plan:
        var (next, nextErrors) = ConfigFile.Load(plan.ConfigPath);
        var (current, currentErrors) = ConfigFile.Load(plan.FromPath);
        if (next is null || current is null)
        {
            foreach (var error in nextErrors.Concat(currentErrors))
                Console.Error.WriteLine(error);
            return 1;
        }
        return await InfluxProxy.Host.Migration.PlanCommand.RunAsync(next, current, Console.Out, CancellationToken.None);
    case CommandLine.Run run:
        var (config, errors) = ConfigFile.Load(run.ConfigPath);
        if (config is null)
        {
            foreach (var error in errors)
                Console.Error.WriteLine(error);
            Console.Error.WriteLine($"{errors.Count} config error(s); not starting");
            return 1;
        }
        try
        {
            var app = await ProxyServer.BuildAsync(config);
            await app.RunAsync();
            return 0;
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException)
        {
            // Listen and certificate failures: one line, a non-zero exit, no stack trace.
            Console.Error.WriteLine($"cannot start: {e.Message}");
            return 1;
        }
    default:
        throw new InvalidOperationException("unreachable");
}
