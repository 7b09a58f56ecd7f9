-- Lines out of a source of chunks: read() returns the next chunk, nil at
-- the end, or nil, message on failure (raised by the iterator).
return function(read)
  local buf, eof = "", false
  return function()
    while true do
      local nl = buf:find("\n", 1, true)
      if nl then
        local line = buf:sub(1, nl - 1):gsub("\r$", "")
        buf = buf:sub(nl + 1)
        return line
      end
      if eof then
        if buf == "" then return nil end
        local line = buf
        buf = ""
        return line
      end
      local chunk, err = read()
      if chunk then
        buf = buf .. chunk
      elseif err then
        error(err, 2)
      else
        eof = true
      end
    end
  end
end
