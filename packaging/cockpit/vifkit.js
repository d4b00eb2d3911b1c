/* vifkit's Cockpit page (see docs/dbus.md, "The Cockpit page").
 *
 * Everything comes from the org.vifkit service on the system bus, through
 * cockpit.dbus: the Bridge2 and Nic2 objects under /org/vifkit (Cockpit's proxies
 * follow them with the service's ObjectManager and PropertiesChanged signals, so the
 * tables update by themselves), Bridges1.Register for a new bridge, Bridge2.Set for a
 * change, and Translator2 for translations. The service checks every value; this page
 * only shows its answers, each diagnostic next to the field it names.
 *
 * `superuser: "try"`: with administrative access on, the calls go as root; without,
 * as the logged-in user, and polkit asks for org.vifkit.manage (as for `vifkit` on the
 * command line).
 */
"use strict";

(function () {
    const SERVICE = "org.vifkit";
    const ROOT = "/org/vifkit";

    const client = cockpit.dbus(SERVICE, { bus: "system", superuser: "try" });
    const bridges = client.proxies("org.vifkit.Bridge2", ROOT);
    const nics = client.proxies("org.vifkit.Nic2", ROOT);

    const $ = (id) => document.getElementById(id);

    /* An element with text children (never HTML: every value is the service's). */
    function el(tag, attrs, ...children) {
        const e = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs || {})) {
            if (k === "class")
                e.className = v;
            else
                e.setAttribute(k, v);
        }
        for (const c of children) {
            if (c === null || c === undefined)
                continue;
            e.append(c instanceof Node ? c : String(c));
        }
        return e;
    }

    function status(text, problem) {
        const s = $("status");
        s.textContent = text;
        s.classList.toggle("problem", !!problem);
        s.hidden = !text;
    }

    /* The guest NIC each host device belongs to, for the bridges' port lists. */
    function deviceOwners() {
        const owners = {};
        for (const n of Object.values(nics)) {
            const who = n.Guest + " NIC " + n.Device;
            if (n.Backend)
                owners[n.Backend] = who;
            if (n.Emulated)
                owners[n.Emulated] = who + " (emulated)";
        }
        return owners;
    }

    function byName(a, b) {
        return a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0;
    }

    function renderBridges() {
        const body = $("bridges").tBodies[0];
        const owners = deviceOwners();
        const rows = Object.values(bridges).filter((b) => b.valid !== false && b.Name !== undefined)
                .sort(byName)
                .map((b) => {
                    const ports = el("ul", { class: "ports" });
                    for (const p of b.Ports || [])
                        ports.append(el("li", { "data-port": p }, p,
                                        owners[p] ? el("span", { class: "owner" }, " " + owners[p]) : null));
                    const change = el("button", { type: "button", class: "link" }, "Change");
                    change.addEventListener("click", () => openForm(b));
                    return el("tr", { "data-bridge": b.Name },
                              el("th", { scope: "row" }, b.Name),
                              el("td", {}, b.Kind),
                              el("td", {}, b.Mtu ? b.Mtu : "\u2014"),
                              el("td", {}, b.Stp ? "on" : "off"),
                              el("td", {}, b.Uplink || "\u2014"),
                              el("td", {}, b.Vlan ? b.Vlan : "\u2014"),
                              el("td", { class: b.Present ? "yes" : "no" },
                                 b.Present ? "yes" : b.Creatable ? "no (created when needed)" : "no"),
                              el("td", {}, ports),
                              el("td", {}, change));
                });
        body.replaceChildren(...rows);
        $("bridges-empty").hidden = rows.length > 0;
    }

    function renderNics() {
        const body = $("nics").tBodies[0];
        const rows = Object.values(nics).filter((n) => n.valid !== false && n.Guest !== undefined)
                .sort((a, b) => a.Guest.localeCompare(b.Guest) || a.DomainId - b.DomainId ||
                                a.Device - b.Device)
                .map((n) => {
                    /* The PV vif and its emulated twin: one NIC of the guest, two devices. */
                    const devices = el("span", { class: "devices" }, n.Backend || "\u2014");
                    if (n.Emulated)
                        devices.append(el("span", { class: "twin" }, " + " + n.Emulated));
                    return el("tr", { "data-nic": n.Backend || n.path },
                              el("th", { scope: "row" }, n.Guest,
                                 el("span", { class: "sub" }, " " + n.Driver + " domain " + n.DomainId)),
                              el("td", {}, n.Device),
                              el("td", { class: "mac" }, n.Mac),
                              el("td", {}, n.Model || (n.Emulated ? "\u2014" : "PV (netfront)")),
                              el("td", {}, devices),
                              el("td", {}, n.Bridge || "\u2014"),
                              el("td", {}, n.Vlan ? n.Vlan : "\u2014"),
                              el("td", {}, n.State || "\u2014"));
                });
        body.replaceChildren(...rows);
        $("nics-empty").hidden = rows.length > 0;
    }

    /* One redraw for all the signals of a moment (a registry with thousands of NICs
     * sends as many InterfacesAdded at start). */
    let redraw = null;
    function render() {
        if (redraw === null)
            redraw = window.setTimeout(() => {
                redraw = null;
                renderBridges();
                renderNics();
            }, 0);
    }

    for (const p of [bridges, nics]) {
        p.addEventListener("added", render);
        p.addEventListener("changed", render);
        p.addEventListener("removed", render);
    }

    /* --- Registering and changing a bridge ------------------------------------- */

    let editing = null; /* the Bridge2 proxy being changed, or null for a new one */

    function clearDiags(form) {
        for (const d of form.querySelectorAll(".diag")) {
            d.textContent = "";
            d.previousElementSibling?.classList?.remove("invalid");
        }
    }

    /* Puts a service error next to the field it names: the options the service checks
     * are named in its messages as `key`; anything else goes under the form. */
    function showError(form, ex) {
        const msg = ex.message || String(ex);
        const named = /`([a-z]+)`/.exec(msg);
        let field = "";
        if (named && form.querySelector('.diag[data-for="' + named[1] + '"]'))
            field = named[1];
        else if (/bridge name|interface name/i.test(msg) && !editing)
            field = "name";
        const d = form.querySelector('.diag[data-for="' + field + '"]');
        d.textContent = msg;
        /* Cockpit's bridge does not mark calls as allowing interactive authorization:
         * without administrative access polkit answers without asking. */
        if (ex.name === "org.freedesktop.DBus.Error.AccessDenied")
            d.textContent += " Turn on administrative access (top right) and try again.";
        const input = form.elements[field];
        if (input)
            input.classList.add("invalid");
    }

    function openForm(b) {
        const form = $("bridge-form");
        editing = b || null;
        clearDiags(form);
        form.hidden = false;
        $("bridge-form-title").textContent = b ? "Change bridge " + b.Name : "Register a bridge";
        $("bridge-save").textContent = b ? "Save" : "Register";
        const f = form.elements;
        f.name.value = b ? b.Name : "";
        f.name.disabled = !!b;
        f.kind.value = b ? b.Kind : "linux";
        f.mtu.value = b && b.Mtu ? b.Mtu : "";
        f.uplink.value = b ? b.Uplink : "";
        f.vlan.value = b && b.Vlan ? b.Vlan : "";
        f.stp.checked = b ? b.Stp : false;
        f.creatable.checked = b ? b.Creatable : false;
        (b ? f.kind : f.name).focus();
    }

    /* The options of Register and Set (a{sv}). An empty field is left out of Register
     * and unsets the setting in Set ("" or 0). A number that is not one goes as a
     * string, so that the service names the option it refuses. */
    function options(form, change) {
        const f = form.elements;
        const opts = {
            kind: cockpit.variant("s", f.kind.value),
            stp: cockpit.variant("b", f.stp.checked),
            creatable: cockpit.variant("b", f.creatable.checked),
        };
        const uplink = f.uplink.value.trim();
        if (uplink || change)
            opts.uplink = cockpit.variant("s", uplink);
        for (const [key, type] of [["mtu", "u"], ["vlan", "q"]]) {
            const v = f[key].value.trim();
            if (v)
                opts[key] = /^[0-9]{1,10}$/.test(v) ? cockpit.variant(type, Number(v)) : cockpit.variant("s", v);
            else if (change)
                opts[key] = cockpit.variant(type, 0);
        }
        return opts;
    }

    function save(ev) {
        ev.preventDefault();
        const form = $("bridge-form");
        clearDiags(form);
        const opts = options(form, !!editing);
        const done = editing
            ? client.call(editing.path, "org.vifkit.Bridge2", "Set", [opts], { type: "a{sv}" })
            : client.call(ROOT, "org.vifkit.Bridges1", "Register",
                          [form.elements.name.value.trim(), opts], { type: "sa{sv}" });
        $("bridge-save").disabled = true;
        done.then(() => {
            form.hidden = true;
            editing = null;
        }).catch((ex) => showError(form, ex))
                .finally(() => { $("bridge-save").disabled = false });
    }

    /* --- Translating ------------------------------------------------------------ */

    function translate(ev) {
        ev.preventDefault();
        const what = document.querySelector('input[name="what"]:checked').value;
        const input = $("t-input").value;
        const guest = $("t-guest").value;
        const out = $("t-output");
        const list = $("t-diags");
        list.replaceChildren();
        out.hidden = true;
        const method = what === "cfg" ? "CfgToXml" : "VifToXml";
        client.call(ROOT, "org.vifkit.Translator2", method, [input, guest], { type: "ss" })
                .then(([xml, warnings]) => {
                    out.textContent = xml;
                    out.hidden = false;
                    showDiags(list, warnings, "warning");
                })
                .catch((ex) => {
                    /* A spec or config that does not translate is InvalidSpec with the
                     * first diagnostic's message: Check gives them all, with their
                     * fields. Anything else is said as it is. */
                    if (ex.name !== "org.vifkit.Error.InvalidSpec") {
                        list.append(el("li", { class: "error" }, ex.message || String(ex)));
                        return;
                    }
                    const kind = what === "cfg" ? "cfg" : "vif";
                    return client.call(ROOT, "org.vifkit.Translator2", "Check", [kind, input, guest],
                                       { type: "sss" })
                            .then(([, errors, warnings]) => {
                                showDiags(list, errors, "error");
                                showDiags(list, warnings, "warning");
                            })
                            .catch(() => list.append(el("li", { class: "error" }, ex.message)));
                });
    }

    /* The guest type of an xl config may come from the config itself (`type=`). */
    function whatChanged() {
        const cfg = document.querySelector('input[name="what"]:checked').value === "cfg";
        const fromCfg = $("t-guest").querySelector('option[value=""]');
        fromCfg.disabled = !cfg;
        if (cfg)
            $("t-guest").value = "";
        else if ($("t-guest").value === "")
            $("t-guest").value = "hvm";
        $("t-input").placeholder = cfg
            ? "type = \"hvm\"\nvif = [ 'mac=00:16:3e:01:02:03,bridge=xenbr0,model=e1000' ]"
            : "mac=00:16:3e:01:02:03,bridge=xenbr0,model=e1000";
    }

    /* Each diagnostic (code, nic_index, key, value, message), naming the vif and key. */
    function showDiags(list, diags, cls) {
        for (const [code, nic, key, value, message] of diags) {
            const where = el("span", { class: "where" });
            if (nic >= 0)
                where.append("vif[" + nic + "]");
            if (key)
                where.append(el("code", {}, key + (value ? "=" + value : "")));
            list.append(el("li", { class: cls, "data-code": code }, where, " ", message));
        }
    }

    /* --- Start ------------------------------------------------------------------ */

    function start() {
        $("register-open").addEventListener("click", () => openForm(null));
        $("bridge-cancel").addEventListener("click", () => {
            $("bridge-form").hidden = true;
            editing = null;
        });
        $("bridge-form").addEventListener("submit", save);
        $("translate-form").addEventListener("submit", translate);
        for (const r of document.querySelectorAll('input[name="what"]'))
            r.addEventListener("change", whatChanged);
        whatChanged();
        client.addEventListener("close", (ev, options) => {
            status("Lost org.vifkit: " + cockpit.message(options), true);
        });
        Promise.all([bridges.wait(), nics.wait()]).then(() => {
            status("");
            renderBridges();
            renderNics();
            document.body.dataset.ready = "1";
        }).catch((ex) => status("Cannot read org.vifkit: " + cockpit.message(ex), true));
    }

    document.addEventListener("DOMContentLoaded", start);
}());
