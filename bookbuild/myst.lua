-- Pandoc filter: MyST roles and cross-references to LaTeX, admonitions to
-- boxes, and a record of every label, reference and citation key so the
-- builder can report an undefined one with its chapter before LaTeX runs.

local labels, refs, cites = {}, {}, {}
local XREF = { "sec", "fig", "tbl", "eq", "lst", "ch", "app" }

local function is_xref(id)
  for _, prefix in ipairs(XREF) do
    if id:sub(1, #prefix + 1) == prefix .. "-" then return true end
  end
  return false
end

local function ref_latex(ids)
  for _, id in ipairs(ids) do table.insert(refs, id) end
  if #ids == 1 and ids[1]:sub(1, 3) == "eq-" then
    return "\\eqref{" .. ids[1] .. "}"
  end
  return "\\Cref{" .. table.concat(ids, ",") .. "}"
end

-- {role}`target` or {role}`text <target>` (text may hold %s for the number)
local function role_latex(role, content)
  local text, target = content:match("^(.-)%s*<([^>]+)>$")
  if role == "ref" or role == "numref" or role == "eq" then
    if not target then return ref_latex({ content }) end
    table.insert(refs, target)
    local shown = text:gsub("%%s", "\\ref*{" .. target .. "}")
    return "\\hyperref[" .. target .. "]{" .. shown .. "}"
  elseif role == "cite" or role == "cite:p" or role == "cite:t" then
    local keys = {}
    for key in content:gmatch("[^,%s]+") do
      table.insert(keys, key); table.insert(cites, key)
    end
    local macro = role == "cite:t" and "\\textcite{" or "\\autocite{"
    return macro .. table.concat(keys, ",") .. "}"
  end
  return nil
end

local ESCAPES = { ["\\"] = "\\textbackslash{}", ["{"] = "\\{", ["}"] = "\\}",
  ["$"] = "\\$", ["&"] = "\\&", ["#"] = "\\#", ["^"] = "\\textasciicircum{}",
  ["_"] = "\\_", ["%"] = "\\%", ["~"] = "\\textasciitilde{}" }
local BREAK_AFTER = { ["."] = true, ["_"] = true, ["/"] = true, ["("] = true, [","] = true }

-- Inline code may break after . _ / ( , so that long dotted names such as
-- torch.nn.functional.scaled_dot_product_attention never run into the margin.
local function code_latex(text)
  local out = {}
  for _, cp in utf8.codes(text) do
    local ch = utf8.char(cp)
    table.insert(out, ESCAPES[ch] or ch)
    if BREAK_AFTER[ch] then table.insert(out, "\\allowbreak{}") end
  end
  return "\\texttt{" .. table.concat(out) .. "}"
end

function Inlines(inlines)
  local i = 1
  while i < #inlines do
    local a, b = inlines[i], inlines[i + 1]
    if a.t == "Str" and b.t == "Code" then
      local before, role = a.text:match("^(.-){([%w:_-]+)}$")
      if role then
        local latex = role_latex(role, b.text)
        if not latex then
          error("unknown MyST role {" .. role .. "}`" .. b.text .. "`")
        end
        local new = { pandoc.RawInline("latex", latex) }
        if before ~= "" then table.insert(new, 1, pandoc.Str(before)) end
        inlines:remove(i + 1)
        inlines:remove(i)
        for k = #new, 1, -1 do inlines:insert(i, new[k]) end
      end
    end
    i = i + 1
  end
  for k, el in ipairs(inlines) do
    if el.t == "Code" then inlines[k] = pandoc.RawInline("latex", code_latex(el.text)) end
  end
  return inlines
end

function Cite(cite)
  local ids, all_xref = {}, true
  for _, c in ipairs(cite.citations) do
    table.insert(ids, c.id)
    all_xref = all_xref and is_xref(c.id)
  end
  if all_xref then return pandoc.RawInline("latex", ref_latex(ids)) end
  for _, id in ipairs(ids) do table.insert(cites, id) end
  return nil
end

function Header(h)
  if h.identifier ~= "" then table.insert(labels, h.identifier) end
end

function Table(t)
  if t.identifier ~= "" then table.insert(labels, t.identifier) end
end

local BOXES = { note = 1, tip = 1, hint = 1, important = 1, warning = 1, caution = 1,
                attention = 1, danger = 1, error = 1, seealso = 1, admonition = 1 }

function Div(div)
  local kind = div.classes[1]
  if not kind or not BOXES[kind] then return nil end
  local title = div.attributes.title or ""
  if title == "" then
    title = kind == "seealso" and "See also" or kind:sub(1, 1):upper() .. kind:sub(2)
  end
  local open = "\\begin{bookadmonition}{" .. kind .. "}{" .. title .. "}"
  if div.identifier ~= "" then
    table.insert(labels, div.identifier)
    open = open .. "\\label{" .. div.identifier .. "}"
  end
  local blocks = { pandoc.RawBlock("latex", open) }
  for _, b in ipairs(div.content) do table.insert(blocks, b) end
  table.insert(blocks, pandoc.RawBlock("latex", "\\end{bookadmonition}"))
  return blocks
end

function Pandoc(doc)
  local function record(name, list)
    doc.blocks:insert(pandoc.RawBlock("latex", "%% BOOK-" .. name .. " " .. table.concat(list, " ")))
  end
  record("LABELS", labels)
  record("REFS", refs)
  record("CITES", cites)
  return doc
end
