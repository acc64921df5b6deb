-- clara.cv: cross-validation; see clara/data/cv.lua
return require "clara.data.cv"
