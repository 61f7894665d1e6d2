using PortPublisher.Bench;

// Side-by-side benchmarks against real peers, in throwaway namespaces (root). Not tests: numbers, not verdicts.
//   dotnet run -c Release --project bench/PortPublisher.Bench -- nat-program [rounds] [max bindings for the one-nft-per-binding column]
//   dotnet run -c Release --project bench/PortPublisher.Bench -- connection-cost [connections] [rounds]
//   dotnet run -c Release --project bench/PortPublisher.Bench -- nat-packet-cost [rounds] [bursts] [datagrams per burst]
//   dotnet run -c Release --project bench/PortPublisher.Bench -- proxy-compare PATH/TO/docker-proxy [rounds] [held connections]
//   dotnet build -c Release && dotnet run -c Release --project bench/PortPublisher.Bench -- service-compare [--docker-proxy PATH] [--rounds N] [--seconds N] [--only …] [--strace] [--perf DIR]
//   dotnet build -c Release && dotnet run -c Release --project bench/PortPublisher.Bench -- publish-range Release [rounds]
//   dotnet build -c Release && dotnet publish src/PortPublisher.Cli -c Release && dotnet run -c Release --project bench/PortPublisher.Bench -- cli-start [rounds] [--native PATH] [--jit PATH] [--docker PATH]
//   dotnet build -c Release && dotnet run -c Release --project bench/PortPublisher.Bench -- scale-range Release [rounds] [spec] [nofile]
//   dotnet build -c Release && dotnet run -c Release --project bench/PortPublisher.Bench -- scale-many Release [publications] [nofile]
//   dotnet build -c Release && dotnet run -c Release --project bench/PortPublisher.Bench -- scale-conns Release [connections] [rounds] [nofile]
//   dotnet run -c Release --project bench/PortPublisher.Bench -- soak [churn cycles] [hang rounds] [kills] [range cycles] [transfer MB]
//   dotnet build -c Release && dotnet run -c Release --project bench/PortPublisher.Bench -- cni-compare PATH/TO/portpublisher-cni [/usr/lib/cni/portmap] [containers] [ports each] [connections]
//   dotnet run -c Release --project bench/PortPublisher.Bench -- fuzz [netlink|spec|all] [--seconds N | --cases N] [--threads N] [--capture]
string mode = args.Length > 0 ? args[0] : "nat-program";
switch (mode)
{
    case "nat-program":
        NatProgramBench.Run(rounds: args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 7, sizes: [100, 1000, 10000], perElementLimit: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1000);
        break;
    case "connection-cost":
        await ConnectionCostBench.Run(
            connections: args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2000,
            rounds: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5);
        break;
    case "nat-packet-cost":
        await NatPacketCostBench.Run(
            rounds: args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5,
            bursts: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 400,
            burst: args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 300);
        break;
    case "publish-range":
        PublishRangeBench.Run(
            configuration: args.Length > 1 ? args[1] : "Release",
            rounds: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3,
            spec: args.Length > 3 ? args[3] : "0.0.0.0:20000-29999:20000-29999");
        break;
    case "cli-start":
        return CliStartBench.Run(args);
    case "scale-range":
        ScaleRangeBench.Run(
            configuration: args.Length > 1 ? args[1] : "Release",
            rounds: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3,
            spec: args.Length > 3 ? args[3] : "20000-29999:20000-29999",
            nofile: args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 20000);
        break;
    case "scale-many":
        ScaleManyBench.Run(
            configuration: args.Length > 1 ? args[1] : "Release",
            count: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10000,
            nofile: args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 20000);
        break;
    case "scale-conns":
        await ScaleConnectionsBench.Run(
            configuration: args.Length > 1 ? args[1] : "Release",
            connections: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 2000,
            rounds: args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 3,
            nofile: args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 20000);
        break;
    case "soak":
        return SoakBench.Run(
            cycles: args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 300,
            hangRounds: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 50,
            kills: args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 12,
            rangeCycles: args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 15,
            transferMb: args.Length > 5 ? int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : 200);
    case "cni-compare":
        await CniCompareBench.Run(
            plugin: args.Length > 1 ? Path.GetFullPath(args[1]) : throw new ArgumentException("cni-compare needs the portpublisher-cni executable (dotnet publish src/PortPublisher.Cni -r linux-x64 -c Release)"),
            portmap: args.Length > 2 ? args[2] : "/usr/lib/cni/portmap",
            containers: args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 100,
            ports: args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : 10,
            connections: args.Length > 5 ? int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : 2000);
        break;
    case "fuzz":
        return PortPublisher.Bench.Fuzz.FuzzCommand.Run(args);
    case "proxy-serve":
        return await ProxyServe.Run(args);
    case "service-compare":
        return await ServiceCompareBench.Run(args);
    case "proxy-compare":
        await ProxyCompareBench.Run(
            dockerProxy: args.Length > 1 ? args[1] : "/usr/sbin/docker-proxy",
            rounds: args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3,
            holdConnections: args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 2000,
            only: args.Length > 4 ? args[4] : "splice,copy,docker,socat");
        break;
    default:
        Console.Error.WriteLine($"unknown benchmark '{mode}': nat-program | connection-cost | nat-packet-cost | publish-range | cli-start | scale-range | scale-many | scale-conns | proxy-compare | proxy-serve | service-compare | soak | cni-compare | fuzz");
        return 2;
}

return 0;
