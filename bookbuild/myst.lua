-- Pandoc filter, two passes over pandoc's CommonMark reading of MyST.
-- 1. HTML: blocks through pandoc's HTML reader, inline tags to their
--    pandoc elements; a tag with no print form is dropped and recorded.
-- 2. MyST: roles, Quarto-style citations and cross-references, table
--    captions, list-tables and admonitions to LaTeX; images, {doc} and
--    {download} deferred to the builder (it knows the file system); and a
--    record of every label, reference and citation key so the builder can
--    report an undefined one with its chapter before LaTeX runs.

local labels, refs, cites, records = {}, {}, {}, {}

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

-- Tags pandoc's HTML reader turns into document elements.
local HTML_KEPT = set { "p", "div", "span", "img", "table", "thead", "tbody", "tfoot", "tr",
  "td", "th", "caption", "colgroup", "col", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2",
  "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "b", "strong", "i", "em", "u", "s",
  "del", "strike", "sub", "sup", "br", "hr", "a", "center", "small", "big", "mark", "kbd",
  "tt", "figure", "figcaption", "details", "summary", "section", "article", "q", "cite",
  "abbr", "var", "samp", "ins", "html", "body", "head" }

local function dropped(tag)
  table.insert(records, "%% BOOK-DROPPED " .. pandoc.json.encode("<" .. tag))
end

local function check_tags(html)
  local seen = {}
  for tag in html:gmatch("<%s*([%a][%w-]*)") do
    tag = tag:lower()
    if not HTML_KEPT[tag] and not seen[tag] then
      seen[tag] = true
      dropped(tag)
    end
  end
end

local function tag_of(raw)
  local close, name = raw.text:match("^<%s*(/?)%s*([%a][%w-]*)")
  return name and name:lower(), close == "/"
end

local WRAP = {
  b = pandoc.Strong, strong = pandoc.Strong, i = pandoc.Emph, em = pandoc.Emph,
  u = pandoc.Underline, s = pandoc.Strikeout, del = pandoc.Strikeout,
  strike = pandoc.Strikeout, sub = pandoc.Subscript, sup = pandoc.Superscript,
  span = pandoc.Span, small = pandoc.Span, big = pandoc.Span, mark = pandoc.Span,
  q = function(c) return pandoc.Quoted("DoubleQuote", c) end,
  cite = pandoc.Emph, abbr = pandoc.Span, var = pandoc.Emph, ins = pandoc.Span,
  code = function(c) return pandoc.Code(pandoc.utils.stringify(c)) end,
  kbd = function(c) return pandoc.Code(pandoc.utils.stringify(c)) end,
  tt = function(c) return pandoc.Code(pandoc.utils.stringify(c)) end,
  samp = function(c) return pandoc.Code(pandoc.utils.stringify(c)) end,
}

local function is_html(el)
  return el.t == "RawInline" and el.format == "html"
end

-- One inline tag (or a pair and what lies between) at position i.
local function html_inline(inlines, i)
  local el = inlines[i]
  if el.text:match("^<!%-%-") then inlines:remove(i); return end
  local tag, closing = tag_of(el)
  if closing then return end  -- taken with its opening tag, or by the sweep after
  if tag == "br" then inlines[i] = pandoc.LineBreak(); return end
  if tag == "img" then
    local doc = pandoc.read(el.text, "html")
    local image = nil
    doc:walk({ Image = function(img) image = image or img end })
    if image then inlines[i] = image else inlines:remove(i) end
    return
  end
  if tag and not closing and (WRAP[tag] or tag == "a") then
    for j = i + 1, #inlines do
      local other = inlines[j]
      if is_html(other) then
        local name, is_close = tag_of(other)
        if name == tag and is_close then
          local content = pandoc.Inlines({})
          for k = i + 1, j - 1 do content:insert(inlines[k]) end
          local new
          if tag == "a" then
            local href = el.text:match('href%s*=%s*"([^"]*)"') or el.text:match("href%s*=%s*'([^']*)'")
            new = href and pandoc.Link(content, href) or pandoc.Span(content)
          else
            new = WRAP[tag](content)
          end
          for _ = i, j do inlines:remove(i) end
          inlines:insert(i, new)
          return
        end
      end
    end
  end
  if tag and not HTML_KEPT[tag] then dropped(tag) end
  inlines:remove(i)
end

local html_pass = {
  Inlines = function(inlines)
    -- from the end, so that an inner pair is wrapped before the outer one
    for i = #inlines, 1, -1 do
      if inlines[i] and is_html(inlines[i]) then html_inline(inlines, i) end
    end
    for i = #inlines, 1, -1 do  -- closing tags whose opening tag was not here
      if is_html(inlines[i]) then inlines:remove(i) end
    end
    return inlines
  end,
  RawBlock = function(raw)
    if raw.format ~= "html" then return nil end
    check_tags(raw.text:gsub("<!%-%-.-%-%->", ""))
    return pandoc.read(raw.text, "html").blocks
  end,
}

-- --- Pass 2: MyST ----------------------------------------------------------

local XREF = { "sec", "fig", "tbl", "eq", "lst", "ch", "app", "ex", "sol", "thm", "def" }

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

-- What only the builder can finish: a marker now, LaTeX after pandoc.
local deferred = 0
local function defer(item)
  deferred = deferred + 1
  table.insert(records, "%% BOOK-DEFER " .. deferred .. " " .. pandoc.json.encode(item))
  return pandoc.RawInline("latex", "\\BOOKDEFER{" .. deferred .. "}")
end

local ESCAPES = { ["\\"] = "\\textbackslash{}", ["{"] = "\\{", ["}"] = "\\}",
  ["$"] = "\\$", ["&"] = "\\&", ["#"] = "\\#", ["^"] = "\\textasciicircum{}",
  ["_"] = "\\_", ["%"] = "\\%", ["~"] = "\\textasciitilde{}" }
local BREAK_BEFORE = { ["."] = true, ["_"] = true }
local BREAK_AFTER = { ["/"] = true, ["("] = true, [","] = true }

-- Inline code may break before . and _ and after / ( , so that long dotted
-- names such as torch.nn.functional.scaled_dot_product_attention never run
-- into the margin; a line that starts with . or _ shows the name goes on
-- (the Chicago Manual's rule for breaking URLs and code).
local function code_latex(text)
  local out, previous = {}, nil
  for _, cp in utf8.codes(text) do
    local ch = utf8.char(cp)
    -- Not inside a run such as __init__'s "__" or "..".
    if BREAK_BEFORE[ch] and previous and not BREAK_BEFORE[previous] then
      table.insert(out, "\\allowbreak{}")
    end
    table.insert(out, ESCAPES[ch] or ch)
    if BREAK_AFTER[ch] then table.insert(out, "\\allowbreak{}") end
    previous = ch
  end
  return "\\texttt{" .. table.concat(out) .. "}"
end

local function plain_latex(text)
  return (text:gsub("[\\{}$&#^_%%~]", ESCAPES))
end

-- Sphinx's code-like roles ({kbd}, {py:func}, ...): shown as inline code.
local CODE_ROLES = set { "kbd", "code", "samp", "file", "command", "program", "envvar",
  "option", "func", "class", "meth", "mod", "attr", "obj", "data", "exc", "py:func",
  "py:class", "py:meth", "py:mod", "py:attr", "py:obj", "py:data", "py:exc", "literal" }

-- {role}`target` or {role}`text <target>` (text may hold %s for the number)
local function role_inlines(role, content)
  local text, target = content:match("^(.-)%s*<([^>]+)>$")
  if role == "ref" or role == "numref" or role == "eq" or role == "prf:ref" then
    if not target then return { pandoc.RawInline("latex", ref_latex({ content })) } end
    table.insert(refs, target)
    local number = "\\ref*{" .. target .. "}"
    local parts = {}
    for piece in (text .. "%s"):gmatch("(.-)%%s") do table.insert(parts, plain_latex(piece)) end
    local shown = table.concat(parts, number)
    return { pandoc.RawInline("latex", "\\hyperref[" .. target .. "]{" .. shown .. "}") }
  elseif role == "cite" or role == "cite:p" or role == "cite:t" or role == "cite:ps" then
    local keys = {}
    for key in content:gmatch("[^,%s]+") do
      table.insert(keys, key); table.insert(cites, key)
    end
    local macro = role == "cite:t" and "\\textcite{" or "\\autocite{"
    return { pandoc.RawInline("latex", macro .. table.concat(keys, ",") .. "}") }
  elseif role == "doc" or role == "download" or role == "term" then
    return { defer({ kind = role, target = target or content, text = text or "" }) }
  elseif role == "index" then
    local shown = text or content
    return { pandoc.Str(shown), pandoc.RawInline("latex", "\\index{" .. plain_latex(target or content) .. "}") }
  elseif role == "math" then
    return { pandoc.Math("InlineMath", content) }
  elseif role == "sub" then
    return { pandoc.Subscript(pandoc.Str(content)) }
  elseif role == "sup" then
    return { pandoc.Superscript(pandoc.Str(content)) }
  elseif role == "abbr" or role == "strike" or role == "del" then
    local words = pandoc.Str(content)
    return { role == "abbr" and words or pandoc.Strikeout(words) }
  elseif CODE_ROLES[role] then
    return { pandoc.RawInline("latex", code_latex((text ~= nil and text ~= "") and text
      or content:gsub("^~", ""))) }
  end
  return nil
end

-- Neighbouring Str elements joined, so that "[@a]" is one piece of text.
local function merge_strs(inlines)
  local i = 1
  while i < #inlines do
    if inlines[i].t == "Str" and inlines[i + 1].t == "Str" then
      inlines[i] = pandoc.Str(inlines[i].text .. inlines[i + 1].text)
      inlines:remove(i + 1)
    else
      i = i + 1
    end
  end
end

local KEY = "[%w_][%w_:%.%-/]*"

-- "see @key, ch. 3": a prefix, the key and a locator (either may be empty)
local function citation_of(part)
  local prefix, key, suffix = part:match("^(.-)%-?@(" .. KEY .. ")(.*)$")
  if not key then return nil end
  local trail = key:match("[:%.%-/]+$") or ""
  key = key:sub(1, #key - #trail)
  return { id = key, prefix = prefix:gsub("%s+$", ""), suffix = trail .. suffix }
end

local function citations_of(inner)
  local list = {}
  for part in (inner .. ";"):gmatch("%s*(.-)%s*;") do
    local c = citation_of(part)
    if not c then return nil end
    c.suffix = c.suffix:gsub("^%s*,%s*", "")
    table.insert(list, c)
  end
  return #list > 0 and list or nil
end

-- [@a; @b] (in parentheses) and @a (in the text), as pandoc and Quarto
-- read them; keys with a cross-reference prefix (fig-, sec-...) are \Cref.
local function citation_latex(list, in_text)
  local ids, all_xref, notes = {}, true, false
  for _, c in ipairs(list) do
    table.insert(ids, c.id)
    all_xref = all_xref and is_xref(c.id)
    notes = notes or c.prefix ~= "" or c.suffix ~= ""
  end
  if all_xref then return ref_latex(ids) end
  for _, id in ipairs(ids) do table.insert(cites, id) end
  local macro = in_text and "\\textcite" or "\\autocite"
  if not notes then return macro .. "{" .. table.concat(ids, ",") .. "}" end
  local out = { macro .. (#list > 1 and "s" or "") }
  for _, c in ipairs(list) do
    local notes = c.prefix ~= "" and "[" .. plain_latex(c.prefix) .. "]" or ""
    if notes ~= "" or c.suffix ~= "" then notes = notes .. "[" .. plain_latex(c.suffix) .. "]" end
    table.insert(out, notes .. "{" .. c.id .. "}")
  end
  return table.concat(out)
end

local function bracket_citation(inlines, i)
  local text = ""
  for j = i, #inlines do
    local el = inlines[j]
    if el.t == "Str" then text = text .. el.text
    elseif el.t == "Space" or el.t == "SoftBreak" then text = text .. " "
    else return false end
    local inner, rest = text:match("^%[(.-)%](.*)$")
    if inner then
      local ids = citations_of(inner)
      if not ids then return false end
      for _ = i, j do inlines:remove(i) end
      if rest ~= "" then inlines:insert(i, pandoc.Str(rest)) end
      inlines:insert(i, pandoc.RawInline("latex", citation_latex(ids, false)))
      return true
    end
  end
  return false
end

local function bare_citation(inlines, i)
  local before, rest = inlines[i].text:match("^([%(]?)(@.*)$")
  local c = rest and citation_of(rest)
  if not c then return end
  local new = { pandoc.RawInline("latex", citation_latex({ { id = c.id, prefix = "", suffix = "" } },
    true)) }
  if before ~= "" then table.insert(new, 1, pandoc.Str(before)) end
  if c.suffix ~= "" then table.insert(new, pandoc.Str(c.suffix)) end
  inlines:remove(i)
  for k = #new, 1, -1 do inlines:insert(i, new[k]) end
end

local function myst_inlines(inlines)
  merge_strs(inlines)
  local i = 1
  while i <= #inlines do
    local a, b = inlines[i], inlines[i + 1]
    if a.t == "Str" and b and b.t == "Code" then
      local before, role = a.text:match("^(.-){([%w:_-]+)}$")
      if role then
        local new = role_inlines(role, b.text)
        if not new then
          error("unknown MyST role {" .. role .. "}`" .. b.text .. "`")
        end
        if before ~= "" then table.insert(new, 1, pandoc.Str(before)) end
        inlines:remove(i + 1)
        inlines:remove(i)
        for k = #new, 1, -1 do inlines:insert(i, new[k]) end
      end
    end
    if inlines[i] and inlines[i].t == "Str" then
      if inlines[i].text:match("^%[") then
        bracket_citation(inlines, i)
      elseif inlines[i].text:match("^%(?@") then
        bare_citation(inlines, i)
      end
    end
    i = i + 1
  end
  for k, el in ipairs(inlines) do
    if el.t == "Code" then inlines[k] = pandoc.RawInline("latex", code_latex(el.text)) end
  end
  return inlines
end

local function image(img)
  return defer({ kind = "image", src = img.src, width = img.attributes.width or "",
                 height = img.attributes.height or "" })
end

local function record_label(el)
  if el.identifier ~= "" then table.insert(labels, el.identifier) end
end

-- ": caption {#tbl-x}" in the paragraph right after a pipe table.
local function caption_table(tbl, para)
  if tbl.t ~= "Table" or not para or para.t ~= "Para" then return false end
  local first = para.content[1]
  if not first or first.t ~= "Str" or first.text:sub(1, 1) ~= ":" then return false end
  local inlines = para.content:clone()
  inlines[1] = pandoc.Str(first.text:sub(2))
  if inlines[1].text == "" then inlines:remove(1) end
  while inlines[1] and inlines[1].t == "Space" do inlines:remove(1) end
  local last = inlines[#inlines]
  -- commonmark_x reads a trailing {#tbl-x} as an empty span with that id
  local id = last and last.t == "Span" and pandoc.utils.stringify(last.content):match("^%s*$")
    and last.identifier ~= "" and last.identifier
  if id then
    inlines:remove(#inlines)
    while inlines[#inlines] and inlines[#inlines].t == "Space" do inlines:remove(#inlines) end
    tbl.identifier = id
  end
  tbl.caption = { long = { pandoc.Plain(inlines) } }
  return true
end

local function list_table(div)
  local caption, list = {}, nil
  for _, b in ipairs(div.content) do
    if b.t == "Div" and b.classes[1] == "book-caption" then
      caption = pandoc.utils.blocks_to_inlines(b.content)
    elseif b.t == "BulletList" then
      list = b
    end
  end
  if not list then error("list-table: the body must be a bullet list of rows") end
  local rows = {}
  for _, item in ipairs(list.content) do
    local inner = item[1]
    if not inner or inner.t ~= "BulletList" then
      error("list-table: each row must be a bullet list of cells")
    end
    table.insert(rows, inner.content)
  end
  local heads = tonumber(div.attributes["header-rows"]) or 0
  local widths, aligns, total = {}, {}, 0
  for w in (div.attributes.widths or ""):gmatch("[%d.]+") do
    table.insert(widths, tonumber(w)); total = total + tonumber(w)
  end
  for k = 1, #rows[1] do
    aligns[k] = pandoc.AlignDefault
    widths[k] = (#widths >= #rows[1] and total > 0) and widths[k] / total or 0
  end
  local body = {}
  for k = heads + 1, #rows do table.insert(body, rows[k]) end
  local tbl = pandoc.utils.from_simple_table(pandoc.SimpleTable(
    caption, aligns, widths, heads > 0 and rows[1] or {}, body))
  tbl.identifier = div.identifier
  record_label(tbl)
  return tbl
end

-- A wide pipe table with the relative widths the builder measured.
local function fit_widths(div)
  local tbl = div.content[1]
  local specs, k = {}, 1
  for w in div.attributes.widths:gmatch("%S+") do
    specs[k] = { tbl.colspecs[k][1], tonumber(w) }
    k = k + 1
  end
  tbl.colspecs = specs
  return tbl
end

local BOXES = set { "note", "tip", "hint", "important", "warning", "caution", "attention",
                    "danger", "error", "seealso", "admonition", "dropdown" }

local function admonition(div, kind)
  local title = ""
  local first = div.content[1]
  if first and first.t == "Div" and first.classes[1] == "book-title" then
    local inlines = pandoc.utils.blocks_to_inlines(first.content)
    title = pandoc.write(pandoc.Pandoc({ pandoc.Plain(inlines) }), "latex"):gsub("%s+$", "")
    div.content:remove(1)
  end
  if title == "" then
    title = kind == "seealso" and "See also" or kind:sub(1, 1):upper() .. kind:sub(2)
  end
  local style = kind == "dropdown" and "note" or kind
  local open = "\\begin{bookadmonition}{" .. style .. "}{" .. title .. "}"
  if div.identifier ~= "" then
    table.insert(labels, div.identifier)
    open = open .. "\\label{" .. div.identifier .. "}"
  end
  local blocks = { pandoc.RawBlock("latex", open) }
  for _, b in ipairs(div.content) do table.insert(blocks, b) end
  table.insert(blocks, pandoc.RawBlock("latex", "\\end{bookadmonition}"))
  return blocks
end

local myst_pass = {
  Inlines = myst_inlines,
  Image = image,
  Header = record_label,
  Figure = record_label,
  Div = function(div)
    local kind = div.classes[1]
    if kind == "book-list-table" then return list_table(div) end
    if kind == "book-widths" then return fit_widths(div) end
    if kind and BOXES[kind] then return admonition(div, kind) end
    return nil
  end,
  Blocks = function(blocks)
    local i = 1
    while i <= #blocks do
      if caption_table(blocks[i], blocks[i + 1]) then blocks:remove(i + 1) end
      if blocks[i].t == "Table" then record_label(blocks[i]) end
      i = i + 1
    end
    return blocks
  end,
  Pandoc = function(doc)
    local function record(name, list)
      doc.blocks:insert(pandoc.RawBlock("latex", "%% BOOK-" .. name .. " " .. table.concat(list, " ")))
    end
    record("LABELS", labels)
    record("REFS", refs)
    record("CITES", cites)
    for _, line in ipairs(records) do doc.blocks:insert(pandoc.RawBlock("latex", line)) end
    return doc
  end,
}

return { html_pass, myst_pass }
