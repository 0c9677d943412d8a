// Answers questions about .NET types for the PowerShell lint (tests/pslint/reflection.py), by reading the metadata of
// the assemblies named on the command line (Mono's .NET Framework 4.x reference assemblies, and assemblies built from
// a payload's Add-Type source).
//
// It reads them with IKVM.Reflection, the metadata reader inside Mono's C# compiler (mcs.exe), in metadata-only mode.
// System.Reflection's reflection-only load would not do: asked for the reference mscorlib.dll it returns the
// runtime's own mscorlib, whose API is a superset of .NET Framework's (Math.Clamp, String.Create...).
//
// Usage: mono TypeQuery.exe [--lib=<directory>]... <assembly.dll>...  < type names, one a line
// The assemblies are searched; a --lib directory (and each searched assembly's own directory, with its Facades)
// only supplies the assemblies they reference.
// For each line it writes one line of JSON: {"query": name, "found": false} or what the lint needs of the type.
// Names are matched ignoring case, as PowerShell's type resolver does (Assembly.GetType(name, false, true)).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using IKVM.Reflection;
using Type = IKVM.Reflection.Type;

internal static class TypeQuery
{
    private static readonly Dictionary<string, string> Files = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    private static readonly Universe Universe = new Universe(UniverseOptions.MetadataOnly | UniverseOptions.ResolveMissingMembers);

    private static int Main(string[] args)
    {
        var searched = new List<Assembly>();
        var paths = new List<string>();
        foreach (string argument in args)
        {
            string directory = argument.StartsWith("--lib=") ? argument.Substring(6) : Path.GetDirectoryName(Path.GetFullPath(argument));
            AddDirectory(directory);
            AddDirectory(Path.Combine(directory, "Facades"));
            if (!argument.StartsWith("--lib="))
            {
                paths.Add(argument);
            }
        }
        Universe.AssemblyResolve += Resolve;
        string corlib;
        if (Files.TryGetValue("mscorlib", out corlib))
        {
            Universe.LoadFile(corlib);
        }
        foreach (string path in paths)
        {
            searched.Add(Universe.LoadFile(path));
        }

        var types = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        foreach (Assembly assembly in searched)
        {
            foreach (Type type in assembly.GetExportedTypes())
            {
                if (!types.ContainsKey(type.FullName))
                {
                    types[type.FullName] = type;
                }
            }
        }

        var output = new StringBuilder();
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            string name = line.Trim();
            if (name.Length == 0)
            {
                continue;
            }
            Type type;
            if (!types.TryGetValue(name, out type))
            {
                output.Append("{\"query\":").Append(Quote(name)).Append(",\"found\":false}\n");
                continue;
            }
            output.Append(Describe(name, type)).Append('\n');
        }
        Console.Out.Write(output.ToString());
        return 0;
    }

    private static void AddDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }
        foreach (string file in Directory.GetFiles(directory, "*.dll"))
        {
            string simpleName = Path.GetFileNameWithoutExtension(file);
            if (!Files.ContainsKey(simpleName))
            {
                Files[simpleName] = file;
            }
        }
    }

    private static Assembly Resolve(object sender, IKVM.Reflection.ResolveEventArgs e)
    {
        string simpleName = new AssemblyName(e.Name).Name;
        string file;
        return Files.TryGetValue(simpleName, out file) ? Universe.LoadFile(file) : null;
    }

    private static string Describe(string query, Type type)
    {
        var json = new StringBuilder();
        json.Append("{\"query\":").Append(Quote(query));
        json.Append(",\"found\":true");
        json.Append(",\"full_name\":").Append(Quote(type.FullName));
        json.Append(",\"assembly\":").Append(Quote(type.Assembly.GetName().Name));
        bool isDelegate = type.BaseType != null && type.BaseType.FullName == "System.MulticastDelegate";
        string kind = type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct"
            : isDelegate ? "delegate" : "class";
        json.Append(",\"kind\":").Append(Quote(kind));
        json.Append(",\"abstract\":").Append(type.IsAbstract ? "true" : "false");
        json.Append(",\"generic_arity\":").Append(type.IsGenericTypeDefinition ? type.GetGenericArguments().Length : 0);

        // Each public constructor as [required arguments, most arguments], -1 for a params array.
        var constructors = new List<string>();
        try
        {
            foreach (ConstructorInfo constructor in type.GetConstructors(BindingFlags.Public | BindingFlags.Instance))
            {
                ParameterInfo[] parameters = constructor.GetParameters();
                int required = 0;
                int maximum = parameters.Length;
                foreach (ParameterInfo parameter in parameters)
                {
                    if (IsParamArray(parameter))
                    {
                        maximum = -1;
                    }
                    else if (!parameter.IsOptional)
                    {
                        required++;
                    }
                }
                constructors.Add("[" + required + "," + maximum + "]");
            }
        }
        catch (Exception e)
        {
            json.Append(",\"constructor_error\":").Append(Quote(e.GetType().Name + ": " + e.Message));
        }
        json.Append(",\"constructors\":[").Append(string.Join(",", constructors)).Append(']');

        var statics = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        var settable = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        try
        {
            const BindingFlags staticFlags = BindingFlags.Public | BindingFlags.Static | BindingFlags.FlattenHierarchy;
            foreach (MemberInfo member in type.GetMembers(staticFlags))
            {
                if (member.MemberType != MemberTypes.Constructor && !IsSpecialName(member))
                {
                    statics.Add(member.Name);
                }
            }
            foreach (Type nested in type.GetNestedTypes(BindingFlags.Public))
            {
                statics.Add(nested.Name);
            }
            foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.CanWrite && property.GetSetMethod() != null)
                {
                    settable.Add(property.Name);
                }
            }
            foreach (FieldInfo field in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
            {
                if (!field.IsInitOnly && !field.IsLiteral && !field.IsSpecialName)
                {
                    settable.Add(field.Name);
                }
            }
        }
        catch (Exception e)
        {
            json.Append(",\"member_error\":").Append(Quote(e.GetType().Name + ": " + e.Message));
        }
        json.Append(",\"static_members\":[").Append(string.Join(",", statics.Select(Quote))).Append(']');
        json.Append(",\"settable_members\":[").Append(string.Join(",", settable.Select(Quote))).Append(']');
        json.Append('}');
        return json.ToString();
    }

    private static bool IsSpecialName(MemberInfo member)
    {
        // Accessors and operators are reached through their property or operator, not by name.
        var method = member as MethodInfo;
        return method != null && method.IsSpecialName;
    }

    private static bool IsParamArray(ParameterInfo parameter)
    {
        foreach (CustomAttributeData attribute in parameter.GetCustomAttributesData())
        {
            if (attribute.AttributeType.FullName == "System.ParamArrayAttribute")
            {
                return true;
            }
        }
        return false;
    }

    private static string Quote(string value)
    {
        var quoted = new StringBuilder("\"");
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': quoted.Append("\\\""); break;
                case '\\': quoted.Append("\\\\"); break;
                default:
                    if (c < ' ')
                    {
                        quoted.Append("\\u").Append(((int)c).ToString("x4"));
                    }
                    else
                    {
                        quoted.Append(c);
                    }
                    break;
            }
        }
        return quoted.Append('"').ToString();
    }
}
